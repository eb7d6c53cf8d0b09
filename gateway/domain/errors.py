"""The one exception family the domain raises; `gateway.problems` maps each to an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A rule of the domain refused the request.

    `detail` is a sentence for a human; `context` carries the machine-readable facts (the field or
    rule that failed, the limit, the inputs) and is published as problem extension members.
    """

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context: Mapping[str, object] = context


class NotFoundError(DomainError):
    """The object does not exist, or is not visible to the caller (never say which)."""


class ConflictError(DomainError):
    """The request conflicts with the current state (a duplicate, a state machine refusal)."""


class RuleViolationError(DomainError):
    """Well-formed input that a business rule refuses."""


class ForbiddenError(DomainError):
    """The caller is known and authorised, but a rule forbids this step (a consent limit, a restriction)."""
