"""Rebalancing and idle cash (PR-05..PR-10): the trades that bring a portfolio back to its model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Final

from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.advisory.models import (
    ClassDrift,
    CurrentHolding,
    IdleCashSuggestion,
    PositionReview,
    RebalancePolicy,
    Trade,
    TradeReason,
    TradeSide,
)
from gateway.domain.advisory.portfolios import ASSET_CLASS_ORDER, WEIGHT_STEP, AssetClass, ModelPortfolio
from gateway.domain.advisory.ports import Prices
from gateway.domain.compliance.suitability import Decision, SuitabilityAssessment
from gateway.domain.market.models import Instrument
from gateway.domain.money import CENT, Currency, Money

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class Position:
    """A current holding as advice reviewed it, with what rebalancing needs to know."""

    holding: CurrentHolding
    instrument: Instrument
    asset_class: AssetClass | None
    in_scope: bool
    on_model: bool  # the model's product for its class
    assessment: SuitabilityAssessment
    note: str

    @property
    def to_sell(self) -> bool:
        return self.in_scope and self.assessment.decision is Decision.UNSUITABLE

    def review(self, total: Decimal) -> PositionReview:
        weight = None
        if self.in_scope:
            weight = (self.holding.market_value.amount / total).quantize(WEIGHT_STEP, ROUND_HALF_EVEN)
        return PositionReview(
            instrument_id=self.instrument.id,
            asset_class=self.asset_class,
            market_value=self.holding.market_value,
            in_scope=self.in_scope,
            weight=weight,
            note=self.note,
            suitability=self.assessment,
        )


def class_targets(model: ModelPortfolio) -> dict[AssetClass, Decimal]:
    # PR-06: cash is not traded by rebalancing, so the invested part follows the non-cash weights.
    invested_share = _ONE - model.weight(AssetClass.CASH)
    if invested_share == 0:
        return {}
    return {
        holding.asset_class: holding.weight / invested_share
        for holding in model.holdings
        if holding.asset_class is not AssetClass.CASH
    }


def _off_target(current: Decimal, target: Decimal, held: Decimal, policy: RebalancePolicy) -> bool:
    drift = abs(current - target)
    if target == 0:
        return held > 0
    return drift > policy.absolute_drift or drift > policy.relative_drift * target


def rebalance(
    positions: Sequence[Position],
    targets: Mapping[AssetClass, Decimal],
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    cash: Money,
    policy: RebalancePolicy,
    prices: Prices,
    moment: datetime,
) -> tuple[tuple[ClassDrift, ...], tuple[Trade, ...], Decimal]:
    currency = cash.currency
    scoped = [(p, c) for p in positions if p.in_scope and (c := p.asset_class) is not None]
    kept = [(p, c) for p, c in scoped if not p.to_sell]
    sales = [_sell_all(p, c, TradeReason.UNSUITABLE) for p, c in scoped if p.to_sell]
    invested = sum((p.holding.market_value.amount for p, _ in scoped), _ZERO)
    values: dict[AssetClass, Decimal] = {}
    for position, asset_class in kept:
        values[asset_class] = values.get(asset_class, _ZERO) + position.holding.market_value.amount
    classes = [c for c in ASSET_CLASS_ORDER if c in targets or c in values]
    if invested == 0:
        return (), tuple(sales), -sum((t.amount.amount for t in sales), _ZERO)

    current = [values.get(c, _ZERO) / invested for c in classes]
    target = [targets.get(c, _ZERO) for c in classes]
    current_shown, target_shown = shares(current), shares(target)
    drifts: list[ClassDrift] = []
    buys: list[tuple[AssetClass, Decimal]] = []
    for i, asset_class in enumerate(classes):
        held = values.get(asset_class, _ZERO)
        off_target = _off_target(current[i], target[i], held, policy)
        drifts.append(
            ClassDrift(
                asset_class=asset_class,
                current_value=Money(held, currency),
                current_weight=current_shown[i],
                target_weight=target_shown[i],
                drift=current_shown[i] - target_shown[i],
                off_target=off_target,
            )
        )
        if not off_target:
            continue
        delta = target[i] * invested - held
        if delta > 0:
            buys.append((asset_class, delta))
        elif delta < 0:
            sales.extend(_sell_from(kept, asset_class, _cents(-delta), prices, moment))

    sold_total = sum((t.amount.amount for t in sales), _ZERO)
    wanted = sum((amount for _, amount in buys), _ZERO)
    available = sold_total + cash.amount
    if wanted <= available:
        amounts = [_cents(amount) for _, amount in buys]
    else:  # PR-07: never buy beyond the means; share what there is in proportion, to the cent
        amounts = split(available, [amount / wanted for _, amount in buys])
    purchases = [
        _buy(model, products, asset_class, Money(amount, currency), TradeReason.DRIFT, prices, moment)
        for (asset_class, _), amount in zip(buys, amounts, strict=True)
        if amount > 0
    ]
    bought_total = sum((t.amount.amount for t in purchases), _ZERO)
    return tuple(drifts), tuple(sales + purchases), bought_total - sold_total


def idle_cash_suggestion(
    cash_left: Decimal,
    total: Decimal,
    targets: Mapping[AssetClass, Decimal],
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    policy: RebalancePolicy,
    prices: Prices,
    moment: datetime,
    currency: Currency,
) -> IdleCashSuggestion | None:
    threshold = max(policy.idle_cash_share, model.weight(AssetClass.CASH))
    # PR-08. Rebalancing and idle cash are each complete suggestions: a partner applying both nets
    # them per product.
    if not targets or total <= 0 or cash_left <= threshold * total:
        return None
    excess = _cents(cash_left - threshold * total)
    if excess <= 0:
        return None
    classes = [c for c in ASSET_CLASS_ORDER if c in targets]
    amounts = split(excess, [targets[c] for c in classes])
    trades = tuple(
        _buy(model, products, asset_class, Money(amount, currency), TradeReason.IDLE_CASH, prices, moment)
        for asset_class, amount in zip(classes, amounts, strict=True)
        if amount > 0
    )
    return IdleCashSuggestion(
        cash=Money(cash_left, currency),
        portfolio_value=Money(total, currency),
        threshold=threshold,
        excess=Money(excess, currency),
        trades=trades,
    )


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def shares(raw: Sequence[Decimal]) -> list[Decimal]:
    """PR-09: round to 4 decimals; the residue goes on the largest, so the rounded sum is the sum rounded."""
    rounded = [value.quantize(WEIGHT_STEP, rounding=ROUND_HALF_EVEN) for value in raw]
    if rounded:
        residue = sum(raw, _ZERO).quantize(WEIGHT_STEP, rounding=ROUND_HALF_EVEN) - sum(rounded, _ZERO)
        largest = max(range(len(raw)), key=raw.__getitem__)
        rounded[largest] += residue
    return rounded


def split(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """PR-09: split an amount in cents by weights; leftover cents go on the largest weight."""
    parts = [_cents(amount * weight) for weight in weights]
    if parts:
        largest = max(range(len(weights)), key=weights.__getitem__)
        parts[largest] += amount - sum(parts, _ZERO)
    return parts


def _price(prices: Prices, instrument: Instrument, moment: datetime) -> Decimal:
    price = prices.reference_price(instrument, moment)
    if not (price.is_finite() and price > 0):
        raise InvalidProposalError(
            "a reference price is positive", field="prices", instrument_id=instrument.id
        )
    return price


def _units(instrument: Instrument, amount: Decimal, price: Decimal) -> Decimal:
    # PR-10: funds allot units to 0.01 (DOMAIN.md); exchange-traded products trade in whole lots.
    units = amount / price
    if instrument.fund is not None:
        return units.quantize(CENT, rounding=ROUND_DOWN)
    lots = (units / instrument.lot_size).to_integral_value(rounding=ROUND_FLOOR)
    return lots * instrument.lot_size


def _buy(
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    asset_class: AssetClass,
    amount: Money,
    reason: TradeReason,
    prices: Prices,
    moment: datetime,
) -> Trade:
    holding = model.holding(asset_class)
    instrument_id = None if holding is None else holding.instrument_id
    if instrument_id is None:  # targets are the model's product classes, so this means a broken model
        raise InvalidProposalError(
            "the model has no product for this class", field="model", asset_class=asset_class.value
        )
    instrument = products[instrument_id]
    return Trade(
        side=TradeSide.BUY,
        instrument_id=instrument.id,
        asset_class=asset_class,
        amount=amount,
        estimated_quantity=_units(instrument, amount.amount, _price(prices, instrument, moment)),
        reason=reason,
    )


def _sell_all(position: Position, asset_class: AssetClass, reason: TradeReason) -> Trade:
    return Trade(
        side=TradeSide.SELL,
        instrument_id=position.instrument.id,
        asset_class=asset_class,
        amount=position.holding.market_value,
        estimated_quantity=position.holding.quantity,
        reason=reason,
    )


def _sell_from(
    kept: Sequence[tuple[Position, AssetClass]],
    asset_class: AssetClass,
    amount: Decimal,
    prices: Prices,
    moment: datetime,
) -> list[Trade]:
    # PR-07: products off the model go first, larger positions first; the id settles ties.
    candidates = sorted(
        (p for p, c in kept if c is asset_class),
        key=lambda p: (p.on_model, -p.holding.market_value.amount, p.instrument.id),
    )
    trades: list[Trade] = []
    remaining = amount
    for position in candidates:
        if remaining <= 0:
            break
        value = position.holding.market_value.amount
        if remaining >= value:
            trades.append(_sell_all(position, asset_class, TradeReason.DRIFT))
            remaining -= value
            continue
        quantity = _units(position.instrument, remaining, _price(prices, position.instrument, moment))
        trades.append(
            Trade(
                side=TradeSide.SELL,
                instrument_id=position.instrument.id,
                asset_class=asset_class,
                amount=Money(remaining, position.holding.market_value.currency),
                estimated_quantity=min(quantity, position.holding.quantity),
                reason=TradeReason.DRIFT,
            )
        )
        remaining = _ZERO
    return trades
