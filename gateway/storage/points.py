"""Valuations, quotes and conversions on SQL, written inside the trading transaction (ADR 0009).

`SqlPointsSession` is a `SqlTradingSession` on the same connection: a conversion, its journal
entry, its fund order and its outbox events commit together or not at all, and the unique
constraints (`partner_id, partner_conversion_id` and `quote_id`) make a second conversion impossible
even if a bug ever skipped the lock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import sqlalchemy as sa

from gateway.domain.clock import Clock
from gateway.domain.ids import new_id
from gateway.domain.money import Currency
from gateway.domain.points.models import Conversion, ConversionState, Quote, Reason, Valuation
from gateway.domain.points.ports import ConversionQuery
from gateway.domain.trading.models import Order
from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables.points import PointsConversionRow, PointsQuoteRow, PointsValuationRow
from gateway.storage.trading import SqlTradingSession, fills

valuations = PointsValuationRow.__table__
quotes = PointsQuoteRow.__table__
conversions = PointsConversionRow.__table__

ADVANCING = (ConversionState.ACCEPTED, ConversionState.PRICED, ConversionState.ALLOTTED)
DEMO_VALUATION: Final = (100, Decimal("1.00"), Currency.CNY)  # 100 points = 1.00 CNY
DEMO_VALUATION_WINDOW: Final = timedelta(days=365)


class SqlPointsSession(SqlTradingSession):
    def add_valuation(self, valuation: Valuation) -> None:
        self._conn.execute(valuations.insert().values(**_valuation_columns(valuation)))

    def valuations_of(self, partner_id: str, currency: Currency) -> Sequence[Valuation]:
        query = valuations.select().where(
            (valuations.c.partner_id == partner_id) & (valuations.c.currency == currency.value)
        )
        return [_valuation(row) for row in self._conn.execute(query)]

    def add_quote(self, quote: Quote) -> None:
        self._conn.execute(quotes.insert().values(**_quote_columns(quote)))

    def quote(self, quote_id: str) -> Quote | None:
        row = self._conn.execute(quotes.select().where(quotes.c.id == quote_id)).first()
        return _quote(row) if row else None

    def add_conversion(self, conversion: Conversion) -> None:
        self._conn.execute(conversions.insert().values(**_conversion_columns(conversion)))

    def save_conversion(self, conversion: Conversion) -> None:
        self._conn.execute(
            conversions.update()
            .where(conversions.c.id == conversion.id)
            .values(**_conversion_columns(conversion))
        )

    def conversion(self, conversion_id: str) -> Conversion | None:
        row = self._conn.execute(conversions.select().where(conversions.c.id == conversion_id)).first()
        return _conversion(row) if row else None

    def conversion_by_partner_id(self, partner_id: str, partner_conversion_id: str) -> Conversion | None:
        query = conversions.select().where(
            (conversions.c.partner_id == partner_id)
            & (conversions.c.partner_conversion_id == partner_conversion_id)
        )
        row = self._conn.execute(query).first()
        return _conversion(row) if row else None

    def conversion_by_quote(self, quote_id: str) -> Conversion | None:
        row = self._conn.execute(conversions.select().where(conversions.c.quote_id == quote_id)).first()
        return _conversion(row) if row else None

    def points_under_consent(self, consent_id: str, since: datetime, until: datetime) -> int:
        return self._points_taken(conversions.c.consent_id == consent_id, since, until)

    def points_of_customer(self, customer_id: str, since: datetime, until: datetime) -> int:
        return self._points_taken(conversions.c.customer_id == customer_id, since, until)

    def _points_taken(self, owner: Any, since: datetime, until: datetime) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(conversions.c.points), 0)).where(
            owner
            & (conversions.c.created_at >= since)
            & (conversions.c.created_at < until)
            & (conversions.c.state != ConversionState.REJECTED.value)
        )
        return int(self._conn.execute(query).scalar_one())

    def advancing(self, customer_ids: Collection[str] | None = None) -> Sequence[Conversion]:
        return [_conversion(row) for row in self._conn.execute(_advancing(customer_ids))]

    def fill_price(self, order_id: str) -> Decimal | None:
        row = self._conn.execute(
            sa.select(fills.c.price).where(fills.c.order_id == order_id).order_by(fills.c.executed_at)
        ).first()
        return row.price if row else None


class SqlPointsStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @contextmanager
    def session(self) -> Iterator[SqlPointsSession]:
        with self._db.write() as conn:
            yield SqlPointsSession(conn)

    def valuations(self, partner_id: str) -> Sequence[Valuation]:
        query = (
            valuations.select()
            .where(valuations.c.partner_id == partner_id)
            .order_by(valuations.c.valid_from.desc(), valuations.c.id)
        )
        with self._db.read() as conn:
            return [_valuation(row) for row in conn.execute(query)]

    def get_quote(self, quote_id: str) -> Quote | None:
        with self._db.read() as conn:
            row = conn.execute(quotes.select().where(quotes.c.id == quote_id)).first()
        return _quote(row) if row else None

    def find_conversion(self, partner_id: str, partner_conversion_id: str) -> Conversion | None:
        query = conversions.select().where(
            (conversions.c.partner_id == partner_id)
            & (conversions.c.partner_conversion_id == partner_conversion_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return _conversion(row) if row else None

    def get_conversion(self, conversion_id: str) -> Conversion | None:
        with self._db.read() as conn:
            row = conn.execute(conversions.select().where(conversions.c.id == conversion_id)).first()
        return _conversion(row) if row else None

    def list_conversions(self, query: ConversionQuery) -> Sequence[Conversion]:
        select = conversions.select().where(
            (conversions.c.partner_id == query.partner_id) & (conversions.c.customer_id == query.customer_id)
        )
        if query.state is not None:
            select = select.where(conversions.c.state == query.state.value)
        select = keyset_page(
            select,
            conversions,
            query.after,
            query.limit,
            owner={"partner_id": query.partner_id, "customer_id": query.customer_id},
        )
        with self._db.read() as conn:
            return [_conversion(row) for row in conn.execute(select)]

    def advancing_with_orders(
        self, customer_ids: Collection[str]
    ) -> Sequence[tuple[Conversion, Order | None]]:
        with self._db.read() as conn:
            live = [_conversion(row) for row in conn.execute(_advancing(customer_ids))]
            found = SqlTradingSession(conn).orders_by_id([c.order_id for c in live if c.order_id])
        return [(c, found.get(c.order_id) if c.order_id else None) for c in live]

    def conversions_created(self, partner_id: str, since: datetime, until: datetime) -> Sequence[Conversion]:
        query = (
            conversions.select()
            .where(
                (conversions.c.partner_id == partner_id)
                & (conversions.c.created_at >= since)
                & (conversions.c.created_at < until)
            )
            .order_by(conversions.c.created_at, conversions.c.id)
        )
        with self._db.read() as conn:
            return [_conversion(row) for row in conn.execute(query)]


def _advancing(customer_ids: Collection[str] | None) -> sa.Select[Any]:
    query = conversions.select().where(conversions.c.state.in_([s.value for s in ADVANCING]))
    if customer_ids is not None:
        query = query.where(conversions.c.customer_id.in_(list(customer_ids)))
    return query.order_by(conversions.c.created_at, conversions.c.id)


def seed_demo_valuations(database: Database, partner_ids: Sequence[str], clock: Clock) -> list[Valuation]:
    """`gateway seed`: 100 points = 1.00 CNY for a year, for each lifestyle platform without a CNY
    valuation that is still running (so the README tour can convert points); idempotent."""
    store = SqlPointsStore(database)
    now = clock.now()
    points, amount, currency = DEMO_VALUATION
    published = []
    for partner_id in partner_ids:
        if any(v.currency is currency and v.valid_until > now for v in store.valuations(partner_id)):
            continue
        valuation = Valuation(
            id=new_id("pvl"),
            partner_id=partner_id,
            points=points,
            amount=amount,
            currency=currency,
            valid_from=now,
            valid_until=now + DEMO_VALUATION_WINDOW,
            created_at=now,
        )
        with store.session() as session:
            session.add_valuation(valuation)
        published.append(valuation)
    return published


def _valuation_columns(valuation: Valuation) -> dict[str, Any]:
    return {
        "id": valuation.id,
        "partner_id": valuation.partner_id,
        "points": valuation.points,
        "amount": valuation.amount,
        "currency": valuation.currency.value,
        "valid_from": valuation.valid_from,
        "valid_until": valuation.valid_until,
        "created_at": valuation.created_at,
    }


def _valuation(row: Any) -> Valuation:
    return Valuation(
        id=row.id,
        partner_id=row.partner_id,
        points=row.points,
        amount=row.amount,
        currency=Currency(row.currency),
        valid_from=as_utc(row.valid_from),
        valid_until=as_utc(row.valid_until),
        created_at=as_utc(row.created_at),
    )


def _quote_columns(quote: Quote) -> dict[str, Any]:
    return {
        "id": quote.id,
        "partner_id": quote.partner_id,
        "client_id": quote.client_id,
        "customer_id": quote.customer_id,
        "consent_id": quote.consent_id,
        "valuation_id": quote.valuation_id,
        "instrument_id": quote.instrument_id,
        "fund_code": quote.fund_code,
        "points_requested": quote.points_requested,
        "points": quote.points,
        "amount": quote.amount,
        "currency": quote.currency.value,
        "minimum_subscription": quote.minimum_subscription,
        "dealing_day": quote.dealing_day,
        "decision": quote.decision,
        "disclosures": list(quote.disclosures),
        "created_at": quote.created_at,
        "expires_at": quote.expires_at,
    }


def _quote(row: Any) -> Quote:
    return Quote(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        customer_id=row.customer_id,
        consent_id=row.consent_id,
        valuation_id=row.valuation_id,
        instrument_id=row.instrument_id,
        fund_code=row.fund_code,
        points_requested=row.points_requested,
        points=row.points,
        amount=row.amount,
        currency=Currency(row.currency),
        minimum_subscription=row.minimum_subscription,
        dealing_day=row.dealing_day,
        decision=row.decision,
        disclosures=tuple(row.disclosures),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
    )


def _conversion_columns(conversion: Conversion) -> dict[str, Any]:
    return {
        "id": conversion.id,
        "partner_id": conversion.partner_id,
        "client_id": conversion.client_id,
        "partner_conversion_id": conversion.partner_conversion_id,
        "customer_id": conversion.customer_id,
        "consent_id": conversion.consent_id,
        "quote_id": conversion.quote_id,
        "valuation_id": conversion.valuation_id,
        "instrument_id": conversion.instrument_id,
        "fund_code": conversion.fund_code,
        "currency": conversion.currency.value,
        "points": conversion.points,
        "amount": conversion.amount,
        "state": conversion.state.value,
        "dealing_day": conversion.dealing_day,
        "created_at": conversion.created_at,
        "updated_at": conversion.updated_at,
        "cooling_off_until": conversion.cooling_off_until,
        "order_id": conversion.order_id,
        "account_id": conversion.account_id,
        "units": conversion.units,
        "nav": conversion.nav,
        "fees": conversion.fees,
        "cash_remainder": conversion.cash_remainder,
        "points_returned": conversion.points_returned,
        "redemption_order_id": conversion.redemption_order_id,
        "reasons": [reason.as_document() for reason in conversion.reasons],
    }


def _conversion(row: Any) -> Conversion:
    return Conversion(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        partner_conversion_id=row.partner_conversion_id,
        customer_id=row.customer_id,
        consent_id=row.consent_id,
        quote_id=row.quote_id,
        valuation_id=row.valuation_id,
        instrument_id=row.instrument_id,
        fund_code=row.fund_code,
        currency=Currency(row.currency),
        points=row.points,
        amount=row.amount,
        state=ConversionState(row.state),
        dealing_day=row.dealing_day,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        cooling_off_until=as_utc(row.cooling_off_until) if row.cooling_off_until else None,
        order_id=row.order_id,
        account_id=row.account_id,
        units=row.units,
        nav=row.nav,
        fees=row.fees,
        cash_remainder=row.cash_remainder,
        points_returned=row.points_returned,
        redemption_order_id=row.redemption_order_id,
        reasons=tuple(
            Reason(str(r["code"]), str(r["rule"]), str(r["message"]), dict(r.get("inputs") or {}))
            for r in row.reasons
        ),
    )
