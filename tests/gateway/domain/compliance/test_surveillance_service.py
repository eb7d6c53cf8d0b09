"""The surveillance queue without a database: clearing alerts and restrictions (CLR-01 to CLR-03)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.compliance.alerts import (
    Alert,
    AlertAlreadyClearedError,
    AlertNotFoundError,
    AlertQuery,
    AlertStatus,
    Clearance,
    InvalidClearanceError,
    Restriction,
    RestrictionNotActiveError,
    RestrictionNotFoundError,
    RestrictionQuery,
)
from gateway.domain.compliance.ports import SurveillanceDesk
from gateway.domain.compliance.service import SurveillanceService
from gateway.domain.compliance.surveillance import Severity
from gateway.domain.paging import Page
from sandbox.clock import FrozenClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OFFICER = "cli_staff"
REASON = "reviewed the orders: a hedge, not a wash trade"


class InMemoryDesk:
    """The surveillance port, in dictionaries; `late` clearings land just before the service's own."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.restrictions_by_id: dict[str, Restriction] = {}
        self.late: Clearance | None = None

    def list_alerts(self, query: AlertQuery) -> Page[Alert]:
        return Page(items=tuple(self.alerts.values())[: query.limit], next_after=None)

    def get_alert(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    def clear_alert(self, alert_id: str, clearance: Clearance) -> bool:
        if self.late is not None:
            self.alerts[alert_id] = replace(
                self.alerts[alert_id], status=AlertStatus.CLEARED, clearance=self.late
            )
        if self.alerts[alert_id].status is not AlertStatus.OPEN:
            return False
        self.alerts[alert_id] = self.alerts[alert_id].clear(clearance)
        return True

    def restrictions(self, query: RestrictionQuery) -> Page[Restriction]:
        return Page(items=tuple(self.restrictions_by_id.values())[: query.limit], next_after=None)

    def account_restrictions(self, account_id: str) -> Sequence[Restriction]:
        found = [r for r in self.restrictions_by_id.values() if r.account_id == account_id]
        return sorted(found, key=lambda r: r.restricted_at, reverse=True)

    def clear_restrictions(self, restriction_ids: Sequence[str], clearance: Clearance) -> int:
        cleared = 0
        for restriction_id in restriction_ids:
            if self.late is not None:
                self.restrictions_by_id[restriction_id] = replace(
                    self.restrictions_by_id[restriction_id], clearance=self.late
                )
            restriction = self.restrictions_by_id[restriction_id]
            if restriction.active:
                self.restrictions_by_id[restriction_id] = restriction.clear(clearance)
                cleared += 1
        return cleared


def alert(alert_id: str = "alr_1") -> Alert:
    return Alert(
        id=alert_id,
        rule="SURV-WASH",
        code="wash_trade",
        severity=Severity.HIGH,
        status=AlertStatus.OPEN,
        account_id="acc_1",
        customer_id="cus_1",
        instrument_id="600519.SH",
        message="a buy and a sell that matched each other",
        facts={"orders": "2"},
        order_ids=("ord_1", "ord_2"),
        created_at=NOW - timedelta(hours=1),
    )


def restriction(restriction_id: str, *, hours_ago: int, account_id: str = "acc_1") -> Restriction:
    return Restriction(
        id=restriction_id,
        account_id=account_id,
        customer_id="cus_1",
        reason="three high alerts in a day",
        alert_ids=("alr_1",),
        restricted_at=NOW - timedelta(hours=hours_ago),
    )


@pytest.fixture
def desk() -> InMemoryDesk:
    return InMemoryDesk()


@pytest.fixture
def service(desk: InMemoryDesk) -> SurveillanceService:
    port: SurveillanceDesk = desk
    return SurveillanceService(port, FrozenClock(NOW))


def test_an_open_alert_is_cleared_once_with_who_why_and_when(
    service: SurveillanceService, desk: InMemoryDesk
) -> None:
    desk.alerts["alr_1"] = alert()
    cleared = service.clear_alert("alr_1", officer=f" {OFFICER} ", reason=f"  {REASON}  ")
    assert cleared.status is AlertStatus.CLEARED
    assert cleared.clearance == Clearance(OFFICER, REASON, NOW)
    assert service.get_alert("alr_1") == cleared

    with pytest.raises(AlertAlreadyClearedError):  # CLR-01
        service.clear_alert("alr_1", officer="another_officer", reason=REASON)
    assert service.get_alert("alr_1") == cleared


def test_a_clearing_that_loses_the_race_is_a_conflict(
    service: SurveillanceService, desk: InMemoryDesk
) -> None:
    desk.alerts["alr_1"] = alert()
    desk.late = Clearance("other_officer", REASON, NOW)
    with pytest.raises(AlertAlreadyClearedError):
        service.clear_alert("alr_1", officer=OFFICER, reason=REASON)
    assert desk.alerts["alr_1"].clearance == desk.late


def test_a_clearing_without_a_proper_reason_changes_nothing(
    service: SurveillanceService, desk: InMemoryDesk
) -> None:
    desk.alerts["alr_1"] = alert()
    desk.restrictions_by_id["rst_1"] = restriction("rst_1", hours_ago=1)
    before = (dict(desk.alerts), dict(desk.restrictions_by_id))
    for officer, reason in ((OFFICER, "too short"), (" ", REASON), (OFFICER, "x" * 501)):
        with pytest.raises(InvalidClearanceError) as refused:
            service.clear_alert("alr_1", officer=officer, reason=reason)
        assert refused.value.context["rule"] == "CLR-03"
        with pytest.raises(InvalidClearanceError):
            service.clear_restriction("acc_1", officer=officer, reason=reason)
    assert (desk.alerts, desk.restrictions_by_id) == before


def test_unknown_alerts_and_accounts_are_not_found(service: SurveillanceService) -> None:
    with pytest.raises(AlertNotFoundError):
        service.get_alert("alr_missing")
    with pytest.raises(AlertNotFoundError):
        service.clear_alert("alr_missing", officer=OFFICER, reason=REASON)
    with pytest.raises(RestrictionNotFoundError):
        service.clear_restriction("acc_missing", officer=OFFICER, reason=REASON)


def test_one_clearing_ends_every_active_restriction_of_the_account(
    service: SurveillanceService, desk: InMemoryDesk
) -> None:
    older, newer = restriction("rst_1", hours_ago=3), restriction("rst_2", hours_ago=1)
    other = restriction("rst_3", hours_ago=1, account_id="acc_2")
    desk.restrictions_by_id.update({r.id: r for r in (older, newer, other)})

    cleared = service.clear_restriction("acc_1", officer=OFFICER, reason=REASON)

    assert cleared.id == "rst_2"  # the newest
    assert cleared.clearance == Clearance(OFFICER, REASON, NOW)
    assert not desk.restrictions_by_id["rst_1"].active
    assert desk.restrictions_by_id["rst_3"].active
    with pytest.raises(RestrictionNotActiveError):  # CLR-02
        service.clear_restriction("acc_1", officer=OFFICER, reason=REASON)


def test_a_restriction_clearing_that_loses_the_race_is_a_conflict(
    service: SurveillanceService, desk: InMemoryDesk
) -> None:
    desk.restrictions_by_id["rst_1"] = restriction("rst_1", hours_ago=1)
    desk.late = Clearance("other_officer", REASON, NOW)
    with pytest.raises(RestrictionNotActiveError):
        service.clear_restriction("acc_1", officer=OFFICER, reason=REASON)
    assert desk.restrictions_by_id["rst_1"].clearance == desk.late
