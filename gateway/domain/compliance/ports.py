"""What the surveillance queue needs from storage; the SQL adapter is gateway/storage/surveillance.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.domain.compliance.alerts import Alert, AlertQuery, Clearance, Restriction, RestrictionQuery
from gateway.domain.paging import Page


class SurveillanceDesk(Protocol):
    """The alert queue and the account restrictions of one environment, as recorded."""

    def list_alerts(self, query: AlertQuery) -> Page[Alert]: ...
    def get_alert(self, alert_id: str) -> Alert | None: ...
    def clear_alert(self, alert_id: str, clearance: Clearance) -> bool:
        """Record the clearing if the alert is still open; False if it no longer is."""
        ...

    def restrictions(self, query: RestrictionQuery) -> Page[Restriction]: ...
    def account_restrictions(self, account_id: str) -> Sequence[Restriction]:
        """Every restriction of the account, active and cleared, newest first."""
        ...

    def clear_restrictions(self, restriction_ids: Sequence[str], clearance: Clearance) -> int:
        """Record the clearing on those of them that are still active; return how many were."""
        ...
