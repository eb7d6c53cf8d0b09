"""What the trading rules refuse; each is a `DomainError` subclass that `problems.py` maps once."""

from __future__ import annotations

from gateway.domain.errors import ConflictError, ForbiddenError, NotFoundError, RuleViolationError


class OrderNotFoundError(NotFoundError):
    """No such order, or not one the caller may see (never say which)."""


class InvalidOrderError(RuleViolationError):
    """The order request is malformed for its type; `context["field"]` names the input."""


class OrderRejectedError(RuleViolationError):
    """A pre-trade check refused the order; `context["reasons"]` lists every failed check."""


class OrderStateError(ConflictError):
    """The order's status does not allow this step (cancel a filled order, cool off twice)."""


class DuplicateOrderError(ConflictError):
    """The app already used this `client_order_id` for a different order."""


class OrderLimitExceededError(ForbiddenError):
    """The order exceeds a limit of the customer's consent; `context["limit"]` names it."""


class AccountRestrictedError(ForbiddenError):
    """Surveillance restricted the account: no new orders until a compliance officer clears it."""
