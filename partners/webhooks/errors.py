"""What the webhook rules refuse; each is a `DomainError` subclass that `gateway/problems.py` maps once."""

from __future__ import annotations

from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError


class SubscriptionNotFoundError(NotFoundError):
    """No such subscription, or not one of the calling app (never say which)."""


class DeliveryNotFoundError(NotFoundError):
    """No such delivery, or not one of the calling app's subscriptions."""


class WebhookUrlError(RuleViolationError):
    """The endpoint URL breaks an SSRF rule; `context["field"]` and `context["rule"]` name it."""


class EventTypeError(RuleViolationError):
    """An event type is not in the catalogue of what the outbox emits; `context["field"]` names it."""


class SubscriptionStateError(ConflictError):
    """The subscription is disabled: it cannot rotate its secret or receive redeliveries."""


class DeliveryStateError(ConflictError):
    """Only a `failed` or `dead` delivery can be sent again."""
