"""Daily reconciliation per partner: what was converted, by state, and where every point went.

The report for day D (UTC) covers the partner's conversions accepted or rejected on D, each in its
state now. Three numbers, to the point:

- points taken: the points of every conversion that was not rejected (a rejected one takes none);
- points returned: the points given back by a cooling-off before allotment (PTS-13);
- points converted: points taken less points returned; they became cash in the customer's account
  (and, unless cooled off after allotment, fund units).

The identity `points taken == points converted + points returned` holds when no conversion returned
more than it took; `balanced` is that check, made line by line over the states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.domain.points.models import Conversion, ConversionState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class StateLine:
    """Counts and sums of one state (per currency: amounts of different currencies are not added)."""

    state: ConversionState
    currency: str
    count: int
    points: int
    points_returned: int
    amount: Decimal
    units: Decimal
    cash_remainder: Decimal


@dataclass(frozen=True, slots=True)
class Reconciliation:
    partner_id: str
    day: date
    lines: tuple[StateLine, ...]
    points_taken: int
    points_converted: int
    points_returned: int
    points_rejected: int  # asked for by rejected conversions, never taken

    @property
    def balanced(self) -> bool:
        return self.points_taken == self.points_converted + self.points_returned


def reconcile(partner_id: str, day: date, conversions: Iterable[Conversion]) -> Reconciliation:
    totals: dict[tuple[ConversionState, str], list[Decimal]] = {}
    taken = converted = returned = rejected = 0
    for conversion in conversions:
        if conversion.partner_id != partner_id:
            continue
        key = (conversion.state, conversion.currency.value)
        line = totals.setdefault(key, [ZERO] * 6)
        for index, value in enumerate(
            (
                Decimal(1),
                Decimal(conversion.points),
                Decimal(conversion.points_returned),
                conversion.amount,
                conversion.units,
                conversion.cash_remainder,
            )
        ):
            line[index] += value
        if conversion.state is ConversionState.REJECTED:
            rejected += conversion.points
            continue
        taken += conversion.points
        returned += conversion.points_returned
        converted += conversion.points_converted
    lines = tuple(
        StateLine(state, currency, int(v[0]), int(v[1]), int(v[2]), v[3], v[4], v[5])
        for (state, currency), v in sorted(totals.items(), key=lambda item: (_ORDER[item[0][0]], item[0][1]))
    )
    return Reconciliation(partner_id, day, lines, taken, converted, returned, rejected)


_ORDER = {state: index for index, state in enumerate(ConversionState)}
