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
