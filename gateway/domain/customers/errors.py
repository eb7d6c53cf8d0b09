"""What the customer rules refuse; each is a `DomainError` subclass that `problems.py` maps once."""

from __future__ import annotations

from gateway.domain.errors import NotFoundError, RuleViolationError


class InvalidCustomerError(RuleViolationError):
    """A customer record is impossible; `context["field"]` names the input that breaks the rule."""


class InvalidAccountError(InvalidCustomerError):
    """An account, its number or its cash balances break a rule."""


class InvalidHoldingError(InvalidCustomerError):
    """A holding is impossible: bad quantity, unknown account, or a value that does not add up."""


class InvalidTransactionError(InvalidCustomerError):
    """A booked transaction is impossible for its kind or its account."""


class CustomerNotFoundError(NotFoundError):
    """No such customer, or not one the caller may see (never say which)."""
