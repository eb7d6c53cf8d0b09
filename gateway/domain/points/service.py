"""Points into fund shares: publish valuations, quote, convert exactly once, advance, cool off.

A conversion, its cash credit (a journal entry from `house:points`), its fund subscription and its
outbox event commit in one trading transaction, under the trading lock: the consent limits and the
daily cap read and write the same serialised state (ADR 0008, ADR 0009). Rules: models.RULES.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import time_ns
from typing import Final
from zoneinfo import ZoneInfo

from gateway.domain.clock import Clock
from gateway.domain.compliance.suitability import Decision, SuitabilityAssessment
from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.errors import NotFoundError
from gateway.domain.ids import new_id
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import FundTerms, Instrument
from gateway.domain.money import Currency
from gateway.domain.paging import Page
from gateway.domain.points.errors import (
    ConversionNotFoundError,
    ConversionRejectedError,
    ConversionStateError,
    DuplicateConversionError,
    InvalidQuoteError,
    InvalidValuationError,
    NoValuationError,
    PointsLimitExceededError,
    QuoteExpiredError,
    QuoteNotFoundError,
    ValuationOverlapError,
)
from gateway.domain.points.models import (
    DAILY_CAP,
    QUOTE_TTL,
    Conversion,
    ConversionState,
    Quote,
    Reason,
    Valuation,
    can_move,
    price_points,
)
from gateway.domain.points.ports import ConversionQuery, PointsSession, PointsStore
from gateway.domain.points.reconciliation import Reconciliation, reconcile
from gateway.domain.trading.dealing import FundDealing
from gateway.domain.trading.ledger import HOUSE_POINTS, EntryKind, JournalEntry, cash, transfer
from gateway.domain.trading.models import Actor, EventType, Order, OrderStatus, OutboxEvent

LIMIT_CODES = frozenset(
    {"fund_not_consented", "max_points_per_conversion", "max_points_per_month", "daily_points_cap"}
)
LIVE_STATES = (ConversionState.ACCEPTED, ConversionState.PRICED, ConversionState.ALLOTTED)
# A conversion that can move whatever the time (its order was cancelled, or dealt already).
ANY_TIME: Final = datetime.min.replace(tzinfo=UTC)
STATE_EVENTS = {
    ConversionState.ACCEPTED: EventType.CONVERSION_ACCEPTED,
    ConversionState.PRICED: EventType.CONVERSION_PRICED,
    ConversionState.ALLOTTED: EventType.CONVERSION_ALLOTTED,
    ConversionState.SETTLED: EventType.CONVERSION_SETTLED,
    ConversionState.REJECTED: EventType.CONVERSION_REJECTED,
    ConversionState.REVERSED: EventType.CONVERSION_REVERSED,
}


@dataclass(frozen=True, slots=True)
class PointsActor:
    """A lifestyle platform's app acting for one customer under one consent."""

    partner_id: str
    client_id: str
    customer_id: str
    consent_id: str | None
    limit: PointsConversionLimit | None  # None: no consent limit, the daily cap still applies

    @property
    def trader(self) -> Actor:
        # The fund order carries no order_placement limit: PTS-09 limits points, not notional.
        return Actor(self.partner_id, self.client_id, self.customer_id, self.consent_id, None)


@dataclass(frozen=True, slots=True)
class QuoteResult:
    quote: Quote
    suitability: SuitabilityAssessment
    acknowledgement_token: str | None
    cut_off: datetime


@dataclass(frozen=True, slots=True)
class ConversionRequest:
    partner_conversion_id: str
    quote_id: str
    acknowledgement_token: str | None = None


@dataclass(frozen=True, slots=True)
class ConversionOutcome:
    conversion: Conversion
    created: bool  # False: the partner sent this partner_conversion_id before (the first is returned)


class PointsService:
    def __init__(
        self,
        *,
        store: PointsStore,
        funds: FundDealing,
        catalogue: Catalogue,
        clock: Clock,
        daily_cap: int = DAILY_CAP,
    ) -> None:
        self.store = store
        self.funds = funds
        self.catalogue = catalogue
        self.clock = clock
        self.daily_cap = daily_cap

    # -- valuations (partner-own) ---------------------------------------------------------------

    def publish_valuation(
        self,
        partner_id: str,
        *,
        points: int,
        amount: Decimal,
        currency: Currency,
        valid_from: datetime | None,
        valid_until: datetime,
    ) -> Valuation:
        """PTS-01, PTS-02: a window from now on that overlaps none of the partner's in that currency."""
        now = self.clock.now()
        start = valid_from or now
        if start < now.replace(microsecond=0):
            raise InvalidValuationError("valid_from must not be in the past", field="valid_from")
        valuation = Valuation(
            id=new_id("pvl"),
            partner_id=partner_id,
            points=points,
            amount=amount,
            currency=currency,
            valid_from=start,
            valid_until=valid_until,
            created_at=now,
        )
        with self.store.session() as session:
            session.lock_trading()  # two overlapping publications never both pass the check
            clash = next(
                (v for v in session.valuations_of(partner_id, currency) if v.overlaps(valuation)), None
            )
            if clash is not None:
                raise ValuationOverlapError(
                    "the window overlaps a published valuation",
                    rule="PTS-02",
                    valuation_id=clash.id,
                    valid_from=clash.valid_from.isoformat(),
                    valid_until=clash.valid_until.isoformat(),
                )
            session.add_valuation(valuation)
        return valuation

    def valuations(self, partner_id: str) -> Sequence[Valuation]:
        return self.store.valuations(partner_id)

    # -- quotes (delegated) ---------------------------------------------------------------------

    def quote(self, actor: PointsActor, instrument_id: str, points: int) -> QuoteResult:
        now = self.clock.now()
        instrument = self._fund(instrument_id)
        terms = _terms(instrument)
        if not 1 <= points <= 100_000_000:
            raise InvalidQuoteError("points is a whole number from 1 to 100000000", field="points")
        refusal = _consent_refusal(actor.limit, terms.fund_code, points, used_this_month=0)
        if refusal is not None:  # fail early; the conversion checks again, with the month's total
            raise _limit_error(refusal, [refusal])
        valuation = next(
            (
                v
                for v in self.store.valuations(actor.partner_id)
                if v.currency is instrument.currency and v.holds(now)
            ),
            None,
        )
        if valuation is None:
            raise NoValuationError(
                f"no valuation in {instrument.currency.value} is valid now",
                rule="PTS-03",
                field="points",
                currency=instrument.currency.value,
            )
        pricing = price_points(points, valuation)
        if pricing.amount <= 0:
            raise InvalidQuoteError("too few points to make a cent", field="points", rule="PTS-04")
        if pricing.amount < terms.minimum_subscription:
            raise InvalidQuoteError(
                "the points are worth less than the fund's minimum subscription",
                field="points",
                rule="PTS-05",
                amount=str(pricing.amount),
                minimum_subscription=str(terms.minimum_subscription),
            )
        assessment, token = self.funds.assess_purchase(actor.trader, instrument, None)
        dealing_day = _dealing_day(instrument, terms, now)
        quote = Quote(
            id=new_id("pqt"),
            partner_id=actor.partner_id,
            client_id=actor.client_id,
            customer_id=actor.customer_id,
            consent_id=actor.consent_id,
            valuation_id=valuation.id,
            instrument_id=instrument.id,
            fund_code=terms.fund_code,
            points_requested=points,
            points=pricing.taken,
            amount=pricing.amount,
            currency=instrument.currency,
            minimum_subscription=terms.minimum_subscription,
            dealing_day=dealing_day,
            decision=assessment.decision.value,
            disclosures=tuple(d.code for d in assessment.required_acknowledgements),
            created_at=now,
            expires_at=now + QUOTE_TTL,
        )
        with self.store.session() as session:
            session.add_quote(quote)
        return QuoteResult(quote, assessment, token, _cut_off(terms, dealing_day))

    # -- conversions (delegated) ----------------------------------------------------------------

    def convert(self, actor: PointsActor, request: ConversionRequest) -> ConversionOutcome:
        """Exactly once per partner_conversion_id (PTS-11); limits checked under the lock (PTS-14)."""
        now = self.clock.now()
        with self.store.session() as session:
            session.lock_trading()
            existing = session.conversion_by_partner_id(actor.partner_id, request.partner_conversion_id)
            if existing is not None:
                if existing.quote_id != request.quote_id or existing.customer_id != actor.customer_id:
                    raise DuplicateConversionError(
                        "this partner_conversion_id was used for a different conversion",
                        field="partner_conversion_id",
                        conversion_id=existing.id,
                    )
                outcome = ConversionOutcome(existing, created=False)
            else:
                outcome = ConversionOutcome(self._convert(session, actor, request, now), created=True)
        if outcome.conversion.state is ConversionState.REJECTED:
            raise _refusal(outcome.conversion)
        return outcome

    def points_to_charge(self, actor: PointsActor, request: ConversionRequest) -> int:
        """What this request counts against the day's points quotas (ADR 0012): the quote's points;
        none for a known partner_conversion_id (it answers with the first conversion, charged then)
        or for a quote that is not this caller's (the conversion is refused without taking points)."""
        if self.store.find_conversion(actor.partner_id, request.partner_conversion_id) is not None:
            return 0
        quote = self.store.get_quote(request.quote_id)
        if quote is None or (quote.client_id, quote.customer_id) != (actor.client_id, actor.customer_id):
            return 0
        return quote.points

    def get(self, actor: PointsActor, conversion_id: str) -> Conversion:
        conversion = self.store.get_conversion(conversion_id)
        if conversion is None or not _visible(conversion, actor):
            raise ConversionNotFoundError("no such conversion", conversion_id=conversion_id)
        return conversion

    def list_conversions(self, query: ConversionQuery) -> Page[Conversion]:
        return Page.of(self.store.list_conversions(replace(query, limit=query.limit + 1)), query.limit)

    def cool_off(self, actor: PointsActor, conversion_id: str) -> Conversion:
        """PTS-13: within 48 h, a full reversal before allotment, a redemption after it."""
        now = self.clock.now()
        with self.store.session() as session:
            session.lock_trading()
            conversion = session.conversion(conversion_id)
            if conversion is None or not _visible(conversion, actor):
                raise ConversionNotFoundError("no such conversion", conversion_id=conversion_id)
            conversion = self._advance_one(session, conversion, now)  # allotted already? then redeem
            if not can_move(conversion.state, ConversionState.REVERSED) or conversion.order_id is None:
                raise ConversionStateError(
                    f"a {conversion.state} conversion cannot be cooled off", state=conversion.state.value
                )
            if conversion.cooling_off_until is None or now > conversion.cooling_off_until:
                raise ConversionStateError(
                    "the 48-hour cooling-off period has ended",
                    cooling_off_until=conversion.cooling_off_until.isoformat()
                    if conversion.cooling_off_until
                    else None,
                )
            order = self.funds.cool_off_in(session, actor.trader, conversion.order_id)
            if order.status is OrderStatus.CANCELLED:  # before allotment: the cash goes back
                account = conversion.account_id or order.account_id
                postings = transfer(account, HOUSE_POINTS, cash(conversion.currency), conversion.amount)
                session.post(
                    JournalEntry(new_id("jrn"), EntryKind.POINTS_RETURN, conversion.id, postings, now)
                )
                reversed_ = replace(conversion, points_returned=conversion.points)
            else:
                reversed_ = replace(conversion, redemption_order_id=order.reversed_by)
            return self._move(session, reversed_, ConversionState.REVERSED, now)

    # -- the clock-driven job -------------------------------------------------------------------

    def advance(self, customers: Collection[str] | None = None) -> int:
        """Move every live conversion as far as the clock and its fund order allow; how many moved.

        `customers` limits the run to these customers' conversions (a test clock's); None moves
        every customer's. Idempotent and safe in several workers: it runs under the trading lock
        and each move is decided from the state it reads there.
        """
        if customers is not None and not customers:
            return 0
        now = self.clock.now()
        moved = 0
        with self.store.session() as session:
            session.lock_trading()
            for conversion in session.advancing(customers):
                if self._advance_one(session, conversion, now) != conversion:
                    moved += 1
        return moved

    def next_due(self, customers: Collection[str], after: datetime) -> datetime | None:
        """When `advance` next moves a live conversion of these customers, or None if it never
        will on time alone.

        The time-based steps (PTS-12) are the dealing day's cut-off (accepted to priced) and the
        start of the next trading day in the fund's market (allotted to settled): the earliest of
        those strictly after `after` is the answer. A priced conversion waits for its fund order to
        be dealt, which the fund dealing job's own due moment (the NAV publication) covers, so it
        answers None here. A conversion that can move already (its order was dealt or cancelled,
        or its moment passed while nobody advanced it) is due at once: the answer is `after`.
        """
        if not customers:
            return None
        moments = [
            moment
            for conversion, order in self.store.advancing_with_orders(customers)
            if (moment := self._moves_from(conversion, order)) is not None
        ]
        return max(min(moments), after) if moments else None

    def reconciliation(self, partner_id: str, day: date) -> Reconciliation:
        since = datetime.combine(day, time(0), tzinfo=UTC)
        return reconcile(
            partner_id, day, self.store.conversions_created(partner_id, since, since + timedelta(days=1))
        )

    # -- internals ------------------------------------------------------------------------------

    def _fund(self, instrument_id: str) -> Instrument:
        try:
            instrument = self.catalogue.get(instrument_id)
        except NotFoundError:
            raise InvalidQuoteError("no such fund", field="instrument_id") from None
        if instrument.fund is None:
            raise InvalidQuoteError("points convert into funds only", field="instrument_id")
        return instrument

    def _convert(
        self, session: PointsSession, actor: PointsActor, request: ConversionRequest, now: datetime
    ) -> Conversion:
        quote = session.quote(request.quote_id)
        if (
            quote is None
            or quote.partner_id != actor.partner_id
            or quote.client_id != actor.client_id
            or quote.customer_id != actor.customer_id
        ):
            raise QuoteNotFoundError("no such quote", field="quote_id", quote_id=request.quote_id)
        used = session.conversion_by_quote(quote.id)
        if used is not None:
            raise DuplicateConversionError(
                "this quote was already converted", field="quote_id", rule="PTS-06", conversion_id=used.id
            )
        if quote.expired(now):
            raise QuoteExpiredError(
                "the quote has expired; ask for a new one",
                field="quote_id",
                rule="PTS-06",
                expires_at=quote.expires_at.isoformat(),
            )
        instrument = self.catalogue.get(quote.instrument_id)
        account = self.funds.account_for(actor.customer_id, instrument)
        conversion = Conversion(
            id=new_id("cnv"),
            partner_id=actor.partner_id,
            client_id=actor.client_id,
            partner_conversion_id=request.partner_conversion_id,
            customer_id=actor.customer_id,
            consent_id=actor.consent_id,
            quote_id=quote.id,
            valuation_id=quote.valuation_id,
            instrument_id=quote.instrument_id,
            fund_code=quote.fund_code,
            currency=quote.currency,
            points=quote.points,
            amount=quote.amount,
            state=ConversionState.ACCEPTED,
            dealing_day=quote.dealing_day,
            created_at=now,
            updated_at=now,
            account_id=account.id if account else None,
        )
        reasons = self._refusals(session, actor, quote, instrument, request, now)
        if account is None:
            reasons.append(Reason("no_account_for_market", "PTS-08", f"no {instrument.market.value} account"))
        elif session.restriction(account.id) is not None:
            reasons.append(Reason("account_restricted", "PTS-08", "the account is restricted by compliance"))
        if reasons:
            rejected = replace(conversion, state=ConversionState.REJECTED, reasons=tuple(reasons))
            session.add_conversion(rejected)
            self._emit(session, rejected, now)
            return rejected
        assert account is not None  # noqa: S101 (narrowed: a missing account is a reason above)
        # The dealing day may have moved on since the quote: the order takes today's.
        credit = transfer(HOUSE_POINTS, account.id, cash(quote.currency), quote.amount)
        session.post(JournalEntry(new_id("jrn"), EntryKind.POINTS_CREDIT, conversion.id, credit, now))
        placement = self.funds.subscribe_in(
            session,
            actor.trader,
            client_order_id=f"points-{conversion.id}",
            instrument_id=quote.instrument_id,
            amount=quote.amount,
            acknowledgement_token=request.acknowledgement_token,
        )
        order = placement.order
        accepted = replace(
            conversion,
            order_id=order.id,
            dealing_day=order.dealing_day or quote.dealing_day,
            cooling_off_until=order.cooling_off_until,
        )
        session.add_conversion(accepted)
        self._emit(session, accepted, now)
        return accepted

    def _refusals(
        self,
        session: PointsSession,
        actor: PointsActor,
        quote: Quote,
        instrument: Instrument,
        request: ConversionRequest,
        now: datetime,
    ) -> list[Reason]:
        """Every acceptance check that fails (PTS-08..10), read under the trading lock."""
        reasons: list[Reason] = []
        month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        used = (
            session.points_under_consent(actor.consent_id, month_start, next_month) if actor.consent_id else 0
        )
        refusal = _consent_refusal(actor.limit, quote.fund_code, quote.points, used_this_month=used)
        if refusal is not None:
            reasons.append(refusal)
        day_start = datetime.combine(now.date(), time(0), tzinfo=UTC)
        today = session.points_of_customer(actor.customer_id, day_start, day_start + timedelta(days=1))
        if today + quote.points > self.daily_cap:
            reasons.append(
                Reason(
                    "daily_points_cap",
                    "PTS-10",
                    f"at most {self.daily_cap} points a day per customer",
                    {"cap": self.daily_cap, "used": today, "points": quote.points},
                )
            )
        assessment, _ = self.funds.assess_purchase(actor.trader, instrument, request.acknowledgement_token)
        if assessment.decision is Decision.UNSUITABLE:
            reasons.append(
                Reason(
                    "unsuitable",
                    "PTS-08",
                    "; ".join(r.message for r in assessment.reasons if r.outcome is Decision.UNSUITABLE)
                    or "the fund does not suit the customer",
                    {
                        "reasons": [r.code for r in assessment.reasons],
                        "rulebook": assessment.rulebook_version,
                    },
                )
            )
        elif assessment.decision is Decision.REQUIRES_ACKNOWLEDGEMENT:
            reasons.append(
                Reason(
                    "acknowledgement_required",
                    "PTS-08",
                    "acknowledge the named disclosures with the quote's acknowledgement token",
                    {"disclosures": [d.code for d in assessment.required_acknowledgements]},
                )
            )
        return reasons

    def _advance_one(self, session: PointsSession, conversion: Conversion, now: datetime) -> Conversion:
        current = conversion
        while True:
            following = self._next(session, current, now)
            if following is None:
                return current
            current = following

    def _next(self, session: PointsSession, conversion: Conversion, now: datetime) -> Conversion | None:
        """One step of PTS-12, or None when the conversion waits (or is final)."""
        if conversion.order_id is None or conversion.state not in LIVE_STATES:
            return None
        order = session.order(conversion.order_id)
        moves_from = self._moves_from(conversion, order)
        if order is None or moves_from is None or now < moves_from:
            return None
        if order.status is OrderStatus.CANCELLED and conversion.state is not ConversionState.ALLOTTED:
            # Cancelled through the orders API, not by a cooling-off here: the credited cash stays
            # with the customer, so the points count as converted (points_returned stays 0).
            return self._move(session, conversion, ConversionState.REVERSED, now)
        if conversion.state is ConversionState.ACCEPTED:
            return self._move(session, conversion, ConversionState.PRICED, now)
        if conversion.state is ConversionState.PRICED:
            allotted = replace(
                conversion,
                units=order.filled_quantity,
                nav=session.fill_price(order.id),
                fees=order.fees,
                cash_remainder=conversion.amount - order.fees - order.filled_notional,
            )
            return self._move(session, allotted, ConversionState.ALLOTTED, now)
        return self._move(session, conversion, ConversionState.SETTLED, now)

    def _moves_from(self, conversion: Conversion, order: Order | None) -> datetime | None:
        """From when the next step of PTS-12 may happen, given the fund order as it stands:
        `ANY_TIME` if it may happen now, None while the conversion waits for its order to be dealt
        (or cannot move at all)."""
        if order is None or conversion.order_id is None or conversion.state not in LIVE_STATES:
            return None
        instrument = self.catalogue.get(conversion.instrument_id)
        terms = _terms(instrument)
        if order.status is OrderStatus.CANCELLED and conversion.state is not ConversionState.ALLOTTED:
            return ANY_TIME
        if conversion.state is ConversionState.ACCEPTED:
            return _cut_off(terms, conversion.dealing_day)
        if conversion.state is ConversionState.PRICED:
            return ANY_TIME if order.status is OrderStatus.FILLED else None
        # Settled on the next trading day: from its first moment in the market's time zone.
        settles = market_calendar.next_trading_day(instrument.market, conversion.dealing_day)
        zone = market_calendar.time_zone(instrument.market)
        return datetime.combine(settles, time(0), tzinfo=zone).astimezone(UTC)

    def _move(
        self, session: PointsSession, conversion: Conversion, state: ConversionState, now: datetime
    ) -> Conversion:
        if not can_move(conversion.state, state):  # a bug, never input: the callers check first
            raise ConversionStateError(
                f"{conversion.state} cannot become {state}", state=conversion.state.value
            )
        moved = replace(conversion, state=state, updated_at=now)
        session.save_conversion(moved)
        self._emit(session, moved, now)
        return moved

    @staticmethod
    def _emit(session: PointsSession, conversion: Conversion, now: datetime) -> None:
        session.emit(conversion_event(conversion, now))


def conversion_event(conversion: Conversion, now: datetime) -> OutboxEvent:
    """The webhook event of the conversion's current state."""
    payload: dict[str, object] = {
        "conversion_id": conversion.id,
        "partner_conversion_id": conversion.partner_conversion_id,
        "state": conversion.state.value,
        "points": conversion.points,
        "points_returned": conversion.points_returned,
        "amount": str(conversion.amount),
        "units": str(conversion.units),
        "currency": conversion.currency.value,
        "fund": conversion.fund_code,
        "instrument_id": conversion.instrument_id,
    }
    if conversion.reasons:
        payload["reasons"] = [r.as_document() for r in conversion.reasons]
    return OutboxEvent(
        _event_id(), STATE_EVENTS[conversion.state], conversion.partner_id, conversion.id, payload, now
    )


def _consent_refusal(
    limit: PointsConversionLimit | None, fund_code: str, points: int, *, used_this_month: int
) -> Reason | None:
    """PTS-09: the first consent limit these points break, or None."""
    if limit is None:
        return None
    if fund_code not in limit.funds:
        return Reason(
            "fund_not_consented",
            "PTS-09",
            "the consent does not cover this fund",
            {"limit": "points_conversion.funds", "fund": fund_code, "allowed": list(limit.funds)},
        )
    if points > limit.max_points_per_conversion:
        return Reason(
            "max_points_per_conversion",
            "PTS-09",
            f"at most {limit.max_points_per_conversion} points per conversion",
            {"limit": "points_conversion.max_points_per_conversion", "points": points,
             "max": limit.max_points_per_conversion},
        )  # fmt: skip
    if used_this_month + points > limit.max_points_per_month:
        return Reason(
            "max_points_per_month",
            "PTS-09",
            f"at most {limit.max_points_per_month} points a month",
            {"limit": "points_conversion.max_points_per_month", "points": points, "used": used_this_month,
             "max": limit.max_points_per_month},
        )  # fmt: skip
    return None


def _limit_name(reason: Reason) -> str:
    name = reason.inputs.get("limit")
    return str(name) if name else f"points_conversion.{reason.code}"


def _limit_error(reason: Reason, reasons: Sequence[Reason], **extra: object) -> PointsLimitExceededError:
    return PointsLimitExceededError(
        reason.message,
        limit="daily_points_cap" if reason.code == "daily_points_cap" else _limit_name(reason),
        rule=reason.rule,
        reasons=[r.as_document() for r in reasons],
        **extra,
    )


def _refusal(conversion: Conversion) -> PointsLimitExceededError | ConversionRejectedError:
    """The answer to a rejected conversion, the first time and on every retry (PTS-14)."""
    limit = next((r for r in conversion.reasons if r.code in LIMIT_CODES), None)
    if limit is not None:
        return _limit_error(limit, conversion.reasons, conversion_id=conversion.id)
    return ConversionRejectedError(
        "the conversion was rejected: " + ", ".join(r.code for r in conversion.reasons),
        conversion_id=conversion.id,
        reasons=[r.as_document() for r in conversion.reasons],
    )


def _terms(instrument: Instrument) -> FundTerms:
    if instrument.fund is None:
        raise InvalidQuoteError("points convert into funds only", field="instrument_id")
    return instrument.fund


def _dealing_day(instrument: Instrument, terms: FundTerms, now: datetime) -> date:
    return market_calendar.fund_dealing_day(
        instrument.market, now, cut_off=terms.cut_off, zone=terms.time_zone
    )


def _cut_off(terms: FundTerms, dealing_day: date) -> datetime:
    zone = ZoneInfo(terms.time_zone)
    return datetime.combine(dealing_day, time.fromisoformat(terms.cut_off), tzinfo=zone).astimezone(UTC)


def _visible(conversion: Conversion, actor: PointsActor) -> bool:
    return conversion.partner_id == actor.partner_id and conversion.customer_id == actor.customer_id


def _event_id() -> str:
    """Ids that sort in emission order: one transaction's events share `created_at` (e.g. priced
    then reversed), and a reader ordering by (created_at, id) must see them in order."""
    return f"evt_{time_ns():016x}{secrets.token_hex(4)}"
