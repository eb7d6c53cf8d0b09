"""Consents: what a customer lets a partner app do, for what purpose, until when and within which
limits (DOMAIN.md, "Permissions and consent tiers"; ARCHITECTURE.md, "Consent-scoped data sharing")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, Literal, TypeVar

from gateway.domain.audit.chain import GENESIS, ChainHead, canonical_record, instant, record_hash
from gateway.domain.consent.errors import ConsentTransitionError, InvalidConsentError
from gateway.domain.errors import RuleViolationError
from gateway.domain.ids import new_id
from gateway.domain.market.models import InstrumentType
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope

MAX_PURPOSE_LENGTH: Final = 500
MAX_LIFETIME: Final = timedelta(days=365)

Revoker = Literal["customer", "partner"]


class Tier(StrEnum):
    BASIC_TRADING = "basic_trading"
    PERSONALISED = "personalised"
    DEEP_ANALYSIS = "deep_analysis"


TIERS: Final[Mapping[Scope, Tier]] = {
    Scope.ACCOUNTS_READ: Tier.BASIC_TRADING,
    Scope.ORDERS_READ: Tier.BASIC_TRADING,
    Scope.ORDERS_WRITE: Tier.BASIC_TRADING,
    Scope.POINTS_CONVERT: Tier.BASIC_TRADING,
    Scope.HOLDINGS_READ: Tier.PERSONALISED,
    Scope.PROFILE_RISK_READ: Tier.PERSONALISED,
    Scope.ADVISORY_READ: Tier.PERSONALISED,
    Scope.ALERTS_SUBSCRIBE: Tier.PERSONALISED,
    Scope.TRANSACTIONS_READ: Tier.DEEP_ANALYSIS,
    Scope.PROFILE_READ: Tier.DEEP_ANALYSIS,
    Scope.ANALYTICS_READ: Tier.DEEP_ANALYSIS,
}
HIGH_RISK: Final = frozenset(scope for scope, tier in TIERS.items() if tier is Tier.DEEP_ANALYSIS)


def default_selection(requested: Iterable[Scope]) -> frozenset[Scope]:
    """The boxes pre-ticked on the consent screen: deep-analysis scopes never are (DOMAIN.md)."""
    return frozenset(scope for scope in requested if scope in TIERS and scope not in HIGH_RISK)


def askable(requested: Iterable[str], *, held: Iterable[str]) -> frozenset[Scope]:
    """What an app may ask customers for: customer-delegated scopes that the app itself holds."""
    requested, held = frozenset(requested), frozenset(held)
    refused = sorted(scope for scope in requested if scope not in held or scope not in CUSTOMER_DELEGATED)
    if refused:
        raise InvalidConsentError(
            "an app asks customers only for customer-delegated scopes it holds",
            field="permissions",
            refused=refused,
        )
    return frozenset(Scope(scope) for scope in requested)


@dataclass(frozen=True, slots=True)
class PointsConversionLimit:
    """At most `max_points_per_month` points a month into `funds`, `max_points_per_conversion` each."""

    funds: tuple[str, ...]
    max_points_per_month: int
    max_points_per_conversion: int

    def __post_init__(self) -> None:
        if not self.funds or any(not fund.strip() for fund in self.funds):
            raise InvalidConsentError("name at least one fund", field="funds")
        if len(set(self.funds)) != len(self.funds):
            raise InvalidConsentError("each fund is named once", field="funds")
        if self.max_points_per_month <= 0:
            raise InvalidConsentError("the monthly limit must be positive", field="max_points_per_month")
        if self.max_points_per_conversion <= 0:
            raise InvalidConsentError(
                "the per-conversion limit must be positive", field="max_points_per_conversion"
            )
        if self.max_points_per_conversion > self.max_points_per_month:
            raise InvalidConsentError(
                "the per-conversion limit must not exceed the monthly limit",
                field="max_points_per_conversion",
                max_points_per_month=self.max_points_per_month,
            )

    def as_document(self) -> dict[str, object]:
        return {
            "type": "points_conversion",
            "funds": list(self.funds),
            "max_points_per_month": self.max_points_per_month,
            "max_points_per_conversion": self.max_points_per_conversion,
        }


@dataclass(frozen=True, slots=True)
class OrderPlacementLimit:
    """Orders of at most `max_notional_per_order`, in the named instrument types only."""

    max_notional_per_order: Money
    instruments: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.max_notional_per_order.amount <= 0:
            raise InvalidConsentError("the notional limit must be positive", field="max_notional_per_order")
        if not self.instruments:
            raise InvalidConsentError("name at least one instrument type", field="instruments")
        known = {kind.value for kind in InstrumentType}
        normalised = tuple(name.strip().lower() for name in self.instruments)
        unknown = sorted(name for name in normalised if name not in known)
        if unknown:
            raise InvalidConsentError(
                "unknown instrument type", field="instruments", unknown=unknown, allowed=sorted(known)
            )
        if len(set(normalised)) != len(normalised):
            raise InvalidConsentError("each instrument type is named once", field="instruments")
        # "ETF" on the wire, InstrumentType.ETF inside: one spelling from here on.
        object.__setattr__(self, "instruments", tuple(InstrumentType(name) for name in normalised))

    def as_document(self) -> dict[str, object]:
        return {
            "type": "order_placement",
            "max_notional_per_order": str(self.max_notional_per_order.amount),
            "currency": self.max_notional_per_order.currency.value,
            "instruments": [str(name) for name in self.instruments],
        }


ConsentLimit = PointsConversionLimit | OrderPlacementLimit
L = TypeVar("L", PointsConversionLimit, OrderPlacementLimit)


def limit_from_document(document: Mapping[str, object]) -> ConsentLimit:
    """The limit that `as_document()` wrote, exactly; anything else is an InvalidConsentError."""
    kind = document.get("type")
    try:
        if kind == "points_conversion" and set(document) == _POINTS_KEYS:
            return PointsConversionLimit(
                funds=_texts(document["funds"]),
                max_points_per_month=_whole(document["max_points_per_month"]),
                max_points_per_conversion=_whole(document["max_points_per_conversion"]),
            )
        if kind == "order_placement" and set(document) == _ORDER_KEYS:
            notional, currency = document["max_notional_per_order"], document["currency"]
            if not isinstance(notional, str) or not isinstance(currency, str):
                raise TypeError("the notional and its currency are strings")
            return OrderPlacementLimit(
                Money(Decimal(notional), Currency(currency)), instruments=_texts(document["instruments"])
            )
    except InvalidConsentError:
        raise
    except (RuleViolationError, TypeError, ValueError, InvalidOperation) as exc:
        raise InvalidConsentError(f"not a limit document: {exc}", field="limits") from exc
    raise InvalidConsentError("not a limit document", field="limits", type=str(kind))


_POINTS_KEYS: Final = frozenset({"type", "funds", "max_points_per_month", "max_points_per_conversion"})
_ORDER_KEYS: Final = frozenset({"type", "max_notional_per_order", "currency", "instruments"})


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # True is an int in Python; not here
        raise TypeError("expected a whole number")
    return value


# A limit only makes sense next to the scope it bounds.
LIMITED_SCOPE: Final[Mapping[type[PointsConversionLimit | OrderPlacementLimit], Scope]] = {
    PointsConversionLimit: Scope.POINTS_CONVERT,
    OrderPlacementLimit: Scope.ORDERS_WRITE,
}


class ConsentStatus(StrEnum):
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


TRANSITIONS: Final[Mapping[ConsentStatus, frozenset[ConsentStatus]]] = {
    ConsentStatus.AWAITING_AUTHORIZATION: frozenset({ConsentStatus.AUTHORIZED, ConsentStatus.REJECTED}),
    ConsentStatus.AUTHORIZED: frozenset({ConsentStatus.REVOKED, ConsentStatus.EXPIRED}),
    ConsentStatus.REJECTED: frozenset(),
    ConsentStatus.REVOKED: frozenset(),
    ConsentStatus.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Consent:
    id: str
    partner_id: str
    client_id: str
    customer_id: str | None
    permissions: frozenset[Scope]
    purpose: str
    expires_at: datetime
    limits: tuple[ConsentLimit, ...]
    # The customer's data may leave their residency for the partner's region (asked, then allowed).
    cross_border: bool
    status: ConsentStatus
    created_at: datetime
    updated_at: datetime
    revoked_by: Revoker | None = None

    @classmethod
    def new(
        cls,
        *,
        partner_id: str,
        client_id: str,
        permissions: frozenset[Scope],
        purpose: str,
        expires_at: datetime,
        limits: tuple[ConsentLimit, ...] = (),
        cross_border: bool = False,
        now: datetime,
    ) -> Consent:
        """A consent a partner app asks for; the customer has not seen it yet."""
        if not partner_id or not client_id:
            raise InvalidConsentError("a consent belongs to a partner app", field="client_id")
        if not permissions:
            raise InvalidConsentError("ask for at least one permission", field="permissions")
        refused = sorted(str(scope) for scope in permissions if scope not in CUSTOMER_DELEGATED)
        if refused:
            # Partner-own and staff scopes come from client credentials, never from a customer.
            raise InvalidConsentError(
                "only customer-delegated scopes can be consented to", field="permissions", refused=refused
            )
        purpose = purpose.strip()
        if not 1 <= len(purpose) <= MAX_PURPOSE_LENGTH:
            raise InvalidConsentError(
                f"the purpose is 1 to {MAX_PURPOSE_LENGTH} characters", field="purpose", length=len(purpose)
            )
        if expires_at.tzinfo is None:
            raise InvalidConsentError("the expiry needs a time zone", field="expires_at")
        expires_at = expires_at.astimezone(UTC)
        if expires_at <= now:
            raise InvalidConsentError("the expiry must be in the future", field="expires_at")
        if expires_at > now + MAX_LIFETIME:
            raise InvalidConsentError(
                "a consent lasts at most 365 days",
                field="expires_at",
                latest=(now + MAX_LIFETIME).isoformat(),
            )
        kinds = [type(limit) for limit in limits]
        if len(set(kinds)) != len(kinds):
            raise InvalidConsentError("at most one limit of each type", field="limits")
        for limit in limits:
            if LIMITED_SCOPE[type(limit)] not in permissions:
                raise InvalidConsentError(
                    "a limit needs the permission it bounds",
                    field="limits",
                    scope=str(LIMITED_SCOPE[type(limit)]),
                )
        return cls(
            id=new_id("cns"),
            partner_id=partner_id,
            client_id=client_id,
            customer_id=None,
            permissions=frozenset(permissions),
            purpose=purpose,
            expires_at=expires_at,
            limits=tuple(limits),
            cross_border=cross_border,
            status=ConsentStatus.AWAITING_AUTHORIZATION,
            created_at=now,
            updated_at=now,
        )

    def limit_of(self, kind: type[L]) -> L | None:
        """The consent's limit of this kind, if it has one (it has at most one of each)."""
        return next((limit for limit in self.limits if isinstance(limit, kind)), None)

    def is_active(self, now: datetime) -> bool:
        # The instant of expiry already counts as expired, as it does for expire().
        return self.status is ConsentStatus.AUTHORIZED and now < self.expires_at

    def allows(self, scope: Scope, now: datetime) -> bool:
        return self.is_active(now) and scope in self.permissions

    def _requires_transition(self, to: ConsentStatus) -> None:
        if to not in TRANSITIONS[self.status]:
            raise ConsentTransitionError(
                f"a consent that is {self.status} cannot become {to}",
                consent_id=self.id,
                status=str(self.status),
                to=str(to),
            )

    def authorize(
        self,
        customer_id: str,
        granted: frozenset[Scope],
        *,
        opted_in_high_risk: bool,
        allow_cross_border: bool,
        now: datetime,
    ) -> Consent:
        """The customer agrees, to all that was asked or to less; never to more."""
        self._requires_transition(ConsentStatus.AUTHORIZED)
        if now >= self.expires_at:
            raise ConsentTransitionError(
                "the consent expired before it was authorized",
                consent_id=self.id,
                status=str(self.status),
                to=str(ConsentStatus.AUTHORIZED),
            )
        if not customer_id:
            raise InvalidConsentError("a consent is authorized by a customer", field="customer_id")
        if not granted:
            raise InvalidConsentError("grant at least one permission", field="granted")
        extra = sorted(str(scope) for scope in granted - self.permissions)
        if extra:
            raise InvalidConsentError(
                "the customer can narrow the request, not widen it", field="granted", not_requested=extra
            )
        high_risk = sorted(str(scope) for scope in granted & HIGH_RISK)
        if high_risk and not opted_in_high_risk:
            raise InvalidConsentError(
                "deep-analysis permissions need an explicit opt-in", field="granted", high_risk=high_risk
            )
        if allow_cross_border and not self.cross_border:
            raise InvalidConsentError(
                "the partner did not ask to move data across borders", field="allow_cross_border"
            )
        return replace(
            self,
            status=ConsentStatus.AUTHORIZED,
            updated_at=now,
            customer_id=customer_id,
            permissions=frozenset(granted),
            cross_border=allow_cross_border,  # kept only if asked (above), or dropped
        )

    def reject(self, *, now: datetime) -> Consent:
        self._requires_transition(ConsentStatus.REJECTED)
        return replace(self, status=ConsentStatus.REJECTED, updated_at=now)

    def revoke(self, by: Revoker, *, now: datetime) -> Consent:
        self._requires_transition(ConsentStatus.REVOKED)
        return replace(self, status=ConsentStatus.REVOKED, updated_at=now, revoked_by=by)

    def expire(self, *, now: datetime) -> Consent:
        self._requires_transition(ConsentStatus.EXPIRED)
        if now < self.expires_at:
            raise ConsentTransitionError(
                "the consent has not reached its expiry",
                consent_id=self.id,
                status=str(self.status),
                expires_at=self.expires_at.isoformat(),
            )
        return replace(self, status=ConsentStatus.EXPIRED, updated_at=now)


class EventKind(StrEnum):
    CREATED = "created"
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A ledger event before the ledger gives it its place (`seq`) and its link (`prev_hash`)."""

    consent_id: str
    kind: EventKind
    at: datetime
    actor: str
    details: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One entry of the consent ledger; `hash` commits to the entry and to the one before it."""

    seq: int
    consent_id: str
    kind: EventKind
    at: datetime
    actor: str
    details: Mapping[str, object]
    prev_hash: str
    hash: str

    def unlinked(self) -> NewEvent:
        return NewEvent(self.consent_id, self.kind, self.at, self.actor, self.details)


def _fields(event: NewEvent) -> dict[str, object]:
    return {
        "consent_id": event.consent_id,
        "kind": str(event.kind),
        "at": instant(event.at),
        "actor": event.actor,
        "details": dict(event.details),
    }


def canonical_event(seq: int, prev_hash: str, event: NewEvent) -> bytes:
    """The bytes an event's hash commits to: the same canonical form as the audit chain's records."""
    return canonical_record(seq, prev_hash, _fields(event))


def link_event(seq: int, prev_hash: str, event: NewEvent) -> ConsentEvent:
    digest = record_hash(seq, prev_hash, _fields(event))
    return ConsentEvent(
        seq, event.consent_id, event.kind, event.at, event.actor, dict(event.details), prev_hash, digest
    )


def verify_ledger(events: Iterable[ConsentEvent], head: ChainHead | None) -> int | None:
    """The seq of the first event that no longer fits the chain, or None if the ledger is intact.

    Pass the whole ledger in seq order and the head kept beside it: the walk finds edits,
    deletions and reorderings; the head finds a truncated tail and events appended behind it.
    """
    expected_seq, expected_prev = 1, GENESIS
    hash_at_head = GENESIS if head is not None and head.seq == 0 else None
    for event in events:
        if event.seq != expected_seq:
            return expected_seq
        if event.prev_hash != expected_prev:
            return event.seq
        if link_event(event.seq, event.prev_hash, event.unlinked()).hash != event.hash:
            return event.seq
        expected_seq, expected_prev = event.seq + 1, event.hash
        if head is not None and event.seq == head.seq:
            hash_at_head = event.hash
    last_seq = expected_seq - 1
    if head is None:
        return 1 if last_seq else None  # events without a head: the head was removed
    if head.seq > last_seq:
        return last_seq + 1  # the tail from here on is gone
    if head.hash != hash_at_head:
        return max(head.seq, 1)  # the event the head names was replaced
    if head.seq < last_seq:
        return head.seq + 1  # appended behind the head's back
    return None
