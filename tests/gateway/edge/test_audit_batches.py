"""The audit trail batches entries a few milliseconds after their responses, on the serving loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from gateway.domain.audit.chain import AuditEntry, AuditRecord, ChainHead
from gateway.edge.audit import AuditTrail


class Log:
    """Counts what reached the database."""

    def __init__(self) -> None:
        self.appended: list[AuditEntry] = []

    def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        self.appended.extend(entries)
        return []

    def records(self, *, after: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        return iter(())

    def head(self) -> ChainHead | None:
        return None


def entry(request_id: str) -> AuditEntry:
    return AuditEntry(datetime(2026, 3, 2, tzinfo=UTC), "live_x", "GET /v1/x", "/v1/x", 200, request_id)


async def serve(trail: AuditTrail, request_id: str, *, wait: float) -> None:
    trail.add(entry(request_id))
    await asyncio.sleep(wait)


def test_entries_reach_the_log_after_the_delay_in_one_batch() -> None:
    log = Log()
    trail = AuditTrail(log, delay_seconds=0.01)

    async def two_calls() -> None:
        trail.add(entry("req-1"))
        trail.add(entry("req-2"))
        assert log.appended == []  # off the response's critical path
        await asyncio.sleep(0.05)

    asyncio.run(two_calls())
    assert [e.request_id for e in log.appended] == ["req-1", "req-2"]


def test_a_loop_that_stopped_before_its_flush_does_not_hold_back_later_entries() -> None:
    log = Log()
    trail = AuditTrail(log, delay_seconds=0.01)
    asyncio.run(serve(trail, "req-1", wait=0))  # the loop ends before its scheduled flush runs
    assert log.appended == []
    asyncio.run(serve(trail, "req-2", wait=0.05))  # the next loop schedules its own flush
    assert [e.request_id for e in log.appended] == ["req-1", "req-2"]
