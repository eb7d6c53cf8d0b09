"""What the points rules refuse; each is a `DomainError` subclass that `problems.py` maps by its base."""

from __future__ import annotations

from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.trading.errors import OrderLimitExceededError


class InvalidValuationError(RuleViolationError):
    """The valuation is malformed or its window is not allowed; `context["field"]` names the input."""


class ValuationOverlapError(ConflictError):
    """The window overlaps a published valuation of the same partner and currency (PTS-02)."""


class NoValuationError(RuleViolationError):
    """The partner has no valuation in the fund's currency valid now (PTS-03)."""


class InvalidQuoteError(RuleViolationError):
    """The quote request breaks a rule (not a fund, too few points, below the minimum)."""


class QuoteNotFoundError(NotFoundError):
    """No such quote, or not one the caller may use (never say which)."""


class QuoteExpiredError(RuleViolationError):
    """The quote's 60 seconds are over; ask for a new one (PTS-06)."""


class ConversionNotFoundError(NotFoundError):
    """No such conversion, or not one the caller may see (never say which)."""


class DuplicateConversionError(ConflictError):
    """The partner already used this `partner_conversion_id` (or this quote) for a different conversion."""


class ConversionStateError(ConflictError):
    """The conversion's state does not allow this step (cool off a rejected one, or after 48 h)."""


class PointsLimitExceededError(OrderLimitExceededError):
    """A consent limit or the daily cap refused the conversion; `context["limit"]` names it (403)."""


class ConversionRejectedError(RuleViolationError):
    """An acceptance check refused the conversion; it is stored as `rejected` with `context["reasons"]`."""
