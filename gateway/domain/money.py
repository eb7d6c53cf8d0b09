"""Money is Decimal with an ISO currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from gateway.domain.errors import RuleViolationError

MAX_AMOUNT: Final = Decimal("1000000000000")  # 10^12: beyond any single instruction we accept
CENT: Final = Decimal("0.01")


class Currency(StrEnum):
    CNY = "CNY"
    HKD = "HKD"
    USD = "USD"
    EUR = "EUR"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        if not self.amount.is_finite():
            raise RuleViolationError("amount must be a finite number", field="amount")
        if self.amount < 0:
            raise RuleViolationError("amount must not be negative", field="amount")
        if self.amount > MAX_AMOUNT:
            raise RuleViolationError(f"amount must not exceed {MAX_AMOUNT}", field="amount")
        if self.amount != self.amount.quantize(CENT):
            raise RuleViolationError("amount has at most two decimals", field="amount")
