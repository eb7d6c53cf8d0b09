"""What the consent rules refuse; each is a `DomainError` subclass that `problems.py` maps once."""

from __future__ import annotations

from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError


class InvalidConsentError(RuleViolationError):
    """A consent, a limit or an authorization breaks a rule; `context["field"]` names the input."""


class ConsentNotFoundError(NotFoundError):
    """No such consent, or not one the caller may see (never say which)."""


class ConsentTransitionError(ConflictError):
    """The lifecycle does not allow this step from the consent's current status."""


class ConsentMissingError(RuleViolationError):
    """The call needs a scope that no consent of this partner grants."""


class ConsentNotActiveError(RuleViolationError):
    """The consent exists but is not authorized, or its expiry has passed."""
