"""The surveillance alert queue and account restrictions as compliance officers work them.

Rules (DOMAIN.md, "Surveillance"; RULES["SURV-RESTRICT"]):
- CLR-01: an alert is `open` until an officer clears it; a cleared alert stays cleared (clearing it
  again is a conflict, not a silent success, so two officers never both believe they decided it).
- CLR-02: a restriction is active until an officer clears it; only the active one can be cleared.
  Clearing it lets the account place orders again; only high alerts raised after the clearing
  count towards a new restriction (`should_restrict(cleared_at=...)`).
- CLR-03: every clearing names the officer (who) and a reason of 10 to 500 characters (why),
  kept with the alert or restriction for the audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.domain.compliance.surveillance import RULES, Severity
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError

REASON_MIN: Final = 10
REASON_MAX: Final = 500
OFFICER_MAX: Final = 200


class AlertStatus(StrEnum):
    OPEN = "open"
    CLEARED = "cleared"


class AlertNotFoundError(NotFoundError):
    """No such alert in this environment."""


class AlertAlreadyClearedError(ConflictError):
    """CLR-01: the alert was cleared before."""


class RestrictionNotFoundError(NotFoundError):
    """The account was never restricted in this environment."""


class RestrictionNotActiveError(ConflictError):
    """CLR-02: the account's restrictions are all cleared already."""


class InvalidClearanceError(RuleViolationError):
    """CLR-03: a clearing without a proper reason or officer."""


@dataclass(frozen=True, slots=True)
class Clearance:
    """Who cleared, why and when (CLR-03)."""

    officer: str
    reason: str
    at: datetime

    @classmethod
    def of(cls, officer: str, reason: str, at: datetime) -> Clearance:
        officer, reason = officer.strip(), reason.strip()
        if not officer or len(officer) > OFFICER_MAX:
            raise InvalidClearanceError(
                f"a clearing names the officer (1 to {OFFICER_MAX} characters)",
                field="officer",
                rule="CLR-03",
            )
        if not REASON_MIN <= len(reason) <= REASON_MAX:
            raise InvalidClearanceError(
                f"a clearing needs a reason of {REASON_MIN} to {REASON_MAX} characters",
                field="reason",
                rule="CLR-03",
                length=len(reason),
            )
        if at.utcoffset() is None:
            raise InvalidClearanceError("the clearing time must be timezone-aware", field="at")
        return cls(officer, reason, at)


@dataclass(frozen=True, slots=True)
class Alert:
    """A recorded surveillance alert (see `surveillance.AlertDraft` for how one is raised)."""

    id: str
    rule: str
    code: str
    severity: Severity
    status: AlertStatus
    account_id: str
    customer_id: str
    instrument_id: str | None
    message: str
    facts: Mapping[str, str]
    order_ids: tuple[str, ...]
    created_at: datetime
    clearance: Clearance | None = None

    @property
    def rule_text(self) -> str:
        return RULES.get(self.rule, "")

    def clear(self, clearance: Clearance) -> Alert:
        """CLR-01: open -> cleared, once."""
        if self.status is not AlertStatus.OPEN:
            raise AlertAlreadyClearedError("the alert is already cleared", alert_id=self.id)
        return replace(self, status=AlertStatus.CLEARED, clearance=clearance)


@dataclass(frozen=True, slots=True)
class Restriction:
    """An account that surveillance restricted from new orders; active until cleared."""

    id: str
    account_id: str
    customer_id: str
    reason: str
    alert_ids: tuple[str, ...]
    restricted_at: datetime
    clearance: Clearance | None = None

    @property
    def active(self) -> bool:
        return self.clearance is None

    def clear(self, clearance: Clearance) -> Restriction:
        """CLR-02: active -> cleared, once."""
        if not self.active:
            raise RestrictionNotActiveError(
                "the account's restriction is already cleared", account_id=self.account_id
            )
        return replace(self, clearance=clearance)


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters of the alert queue, newest first; `after` is the id of the last alert seen."""

    status: AlertStatus | None = None
    severity: Severity | None = None
    customer_id: str | None = None
    account_id: str | None = None
    after: str | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class RestrictionQuery:
    """Filters of the restrictions, newest first; `after` is the id of the last restriction seen."""

    active: bool | None = True  # None: active and cleared
    customer_id: str | None = None
    account_id: str | None = None
    after: str | None = None
    limit: int = 20
