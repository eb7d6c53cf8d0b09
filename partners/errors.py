from __future__ import annotations

from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError


class PartnerNotFoundError(NotFoundError):
    """No such partner."""


class PlanNotFoundError(NotFoundError):
    """No such plan."""


class DuplicatePartnerError(ConflictError):
    """A partner with this name exists already."""


class InvalidAppError(RuleViolationError):
    """The app's scopes, environment or keys break a registry rule."""


class IllegalTransitionError(ConflictError):
    """The partner's stage does not allow this move (partners/lifecycle.py has the rule table)."""


class LifecycleConflictError(ConflictError):
    """The partner is in that status already, or changed while this request was on its way."""


class InvalidLifecycleRequestError(RuleViolationError):
    """A lifecycle request without a proper reason, actor or pilot caps."""


class KeyNotFoundError(NotFoundError):
    """The app holds no key with this kid."""


class AppNotFoundError(NotFoundError):
    """No such app."""
