"""The hash chain on its own: every edit, deletion, reordering or truncation is found at the first
record that no longer fits, and an intact chain verifies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.audit.chain import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    ChainHead,
    Verification,
    canonical,
    link,
    verify,
)

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
FORGED_PREV = "f" * 64


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        occurred_at=T0 + timedelta(seconds=n, microseconds=n),
        actor=f"live_client{n % 3}",
        action="POST /v1/compliance/suitability-checks",
        resource="/v1/compliance/suitability-checks",
        outcome=201,
        request_id=f"req_{n:04d}",
        details={"operation": "createSuitabilityCheck", "partner_id": f"prt_{n % 3}"},
    )


def chain_of(entries: list[AuditEntry]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS
    for seq, item in enumerate(entries, start=1):
        record = link(seq, prev, item)
        records.append(record)
        prev = record.hash
    return records


def build(n: int) -> list[AuditRecord]:
    return chain_of([entry(i) for i in range(1, n + 1)])


def head_of(records: list[AuditRecord]) -> ChainHead:
    return ChainHead(records[-1].seq, records[-1].hash)


def edited(record: AuditRecord, **changes: Any) -> AuditRecord:
    """The record as someone with database access would leave it: fields changed, hash kept."""
    return replace(record, entry=replace(record.entry, **changes))


def refused_at(result: Verification, seq: int) -> None:
    assert not result.ok, result
    assert result.first_bad_seq == seq, result
    assert result.problem


# -- an intact chain ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 2, 7])
def test_a_built_chain_verifies(length: int) -> None:
    records = build(length)
    assert verify(records, head_of(records)) == Verification(ok=True, records=length)


def test_the_empty_chain_verifies() -> None:
    assert verify([], None) == Verification(ok=True, records=0)


def test_records_link_from_the_genesis_each_to_the_one_before() -> None:
    records = build(4)
    assert records[0].prev_hash == GENESIS
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert len({r.hash for r in records}) == 4


def test_the_canonical_form_is_sorted_compact_json_with_microseconds() -> None:
    document = canonical(3, GENESIS, entry(3)).decode()
    assert document.startswith('{"action":"POST /v1/compliance/suitability-checks","actor":')
    assert ", " not in document
    assert ": " not in document
    assert '"at":"2026-01-05T09:30:03.000003+00:00"' in document


def test_the_hash_commits_to_the_instant_not_the_time_zone_it_is_written_in() -> None:
    """PostgreSQL returns timestamps in the session's zone (say Asia/Shanghai); the chain must hold."""
    original = entry(1)
    shanghai = original.occurred_at.astimezone(timezone(timedelta(hours=8)))
    assert link(1, GENESIS, replace(original, occurred_at=shanghai)).hash == link(1, GENESIS, original).hash


# -- edits --------------------------------------------------------------------------------------

EDITS: dict[str, dict[str, Any]] = {
    "actor": {"actor": "live_mallory"},
    "action": {"action": "GET /v1/compliance/suitability-checks"},
    "resource": {"resource": "/v1/compliance/screenings"},
    "outcome": {"outcome": 403},
    "request_id": {"request_id": "req_forged"},
    "details": {"details": {"operation": "createSuitabilityCheck", "partner_id": "prt_other"}},
    "details_added": {"details": {**entry(1).details, "idempotent_replay": True}},
    "occurred_at": {"occurred_at": T0 - timedelta(days=1)},
    "occurred_at_by_a_microsecond": {"occurred_at": T0 + timedelta(seconds=1, microseconds=2)},
}


@pytest.mark.parametrize("position", [1, 3, 5])
@pytest.mark.parametrize("change", sorted(EDITS))
def test_an_edit_of_any_field_is_found_at_that_record(change: str, position: int) -> None:
    records = build(5)
    tampered = list(records)
    tampered[position - 1] = edited(records[position - 1], **EDITS[change])
    assert tampered[position - 1].entry != records[position - 1].entry
    result = verify(tampered, head_of(records))
    refused_at(result, position)
    assert result.problem == "the record was changed after it was written"


def test_an_edited_hash_is_found_at_that_record() -> None:
    records = build(4)
    tampered = [*records[:1], replace(records[1], hash="0" * 63 + "1"), *records[2:]]
    refused_at(verify(tampered, head_of(records)), 2)


# -- deletion, reordering, truncation -----------------------------------------------------------


@pytest.mark.parametrize("position", [1, 3, 4])
def test_a_deleted_record_is_found_where_it_is_missing(position: int) -> None:
    records = build(5)
    tampered = records[: position - 1] + records[position:]
    result = verify(tampered, head_of(records))
    refused_at(result, position)
    assert result.problem == f"record {position} is missing or out of order"


@pytest.mark.parametrize("position", [1, 2, 4])
def test_two_swapped_records_are_found_at_the_first_of_them(position: int) -> None:
    records = build(5)
    tampered = list(records)
    tampered[position - 1], tampered[position] = tampered[position], tampered[position - 1]
    refused_at(verify(tampered, head_of(records)), position)


def test_records_swapped_with_their_sequence_numbers_renumbered_are_found() -> None:
    """Renumbering to hide a swap breaks the links instead."""
    records = build(4)
    second, third = records[1], records[2]
    tampered = [records[0], replace(third, seq=2), replace(second, seq=3), records[3]]
    refused_at(verify(tampered, head_of(records)), 2)


@pytest.mark.parametrize("kept", [0, 1, 4])
def test_a_truncated_tail_is_found_at_the_first_missing_record(kept: int) -> None:
    records = build(5)
    result = verify(records[:kept], head_of(records))
    refused_at(result, kept + 1)
    assert result.problem == "the chain was truncated: the head says 5 records"


def test_a_missing_head_is_found() -> None:
    refused_at(verify(build(3), None), 1)


def test_a_head_that_no_longer_matches_the_last_record_is_found_there() -> None:
    records = build(4)
    refused_at(verify(records, ChainHead(4, "a" * 64)), 4)


def test_records_added_behind_the_head_are_found_at_the_first_of_them() -> None:
    records = build(5)
    refused_at(verify(records, head_of(records[:3])), 4)


# -- forgeries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 3, 5])
def test_a_forged_record_with_a_correct_hash_but_a_wrong_link_is_found_there(position: int) -> None:
    records = build(5)
    forged = link(position, FORGED_PREV, replace(records[position - 1].entry, outcome=200))
    tampered = list(records)
    tampered[position - 1] = forged
    head = head_of(tampered) if position == 5 else head_of(records)
    result = verify(tampered, head)
    refused_at(result, position)
    assert result.problem == "the link to the previous record is broken"


def test_a_forged_record_linked_correctly_breaks_the_next_link() -> None:
    records = build(5)
    forged = link(3, records[1].hash, replace(records[2].entry, actor="live_mallory"))
    tampered = [*records[:2], forged, *records[3:]]
    refused_at(verify(tampered, head_of(records)), 4)


def test_a_forged_last_record_linked_correctly_is_caught_by_the_head() -> None:
    records = build(5)
    forged = link(5, records[3].hash, replace(records[4].entry, outcome=200))
    refused_at(verify([*records[:4], forged], head_of(records)), 5)


# -- any single mutation of any chain -----------------------------------------------------------

TEXT = st.text(max_size=12)
ENTRIES = st.builds(
    AuditEntry,
    occurred_at=st.datetimes(
        # hypothesis takes naive bounds and attaches the zone itself
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    actor=TEXT,
    action=TEXT,
    resource=TEXT,
    outcome=st.integers(100, 599),
    request_id=TEXT,
    details=st.dictionaries(
        st.sampled_from(["operation", "partner_id", "object_id", "idempotent_replay"]),
        st.one_of(st.booleans(), st.integers(-(2**40), 2**40), TEXT, st.none()),
        max_size=4,
    ),
)


FIELDS = ("occurred_at", "actor", "action", "resource", "outcome", "request_id", "details")


def mutate_field(item: AuditEntry, name: str) -> AuditEntry:
    """A change that is always a real change, whatever the drawn value."""
    changes: dict[str, Any] = {
        "occurred_at": {"occurred_at": item.occurred_at + timedelta(microseconds=1)},
        "actor": {"actor": item.actor + "x"},
        "action": {"action": item.action + "x"},
        "resource": {"resource": item.resource + "x"},
        "outcome": {"outcome": item.outcome + 1},
        "request_id": {"request_id": item.request_id + "x"},
        "details": {"details": {**item.details, "tampered": True}},
    }
    return replace(item, **changes[name])


@st.composite
def mutated_chains(draw: st.DrawFn) -> tuple[list[AuditRecord], ChainHead, int]:
    """A random chain, one random mutation, and the first position the mutation touches."""
    entries = draw(st.lists(ENTRIES, min_size=1, max_size=12))
    records = chain_of(entries)
    head = head_of(records)
    n = len(records)
    kind = draw(st.sampled_from(["edit", "delete", "swap", "truncate"] if n > 1 else ["edit", "delete"]))
    tampered = list(records)
    if kind == "edit":
        position = draw(st.integers(1, n))
        name = draw(st.sampled_from(FIELDS))
        tampered[position - 1] = replace(
            records[position - 1], entry=mutate_field(records[position - 1].entry, name)
        )
    elif kind == "delete":
        position = draw(st.integers(1, n))
        del tampered[position - 1]
    elif kind == "swap":
        position = draw(st.integers(1, n - 1))
        tampered[position - 1], tampered[position] = tampered[position], tampered[position - 1]
    else:
        kept = draw(st.integers(0, n - 1))
        tampered, position = tampered[:kept], kept + 1
    return tampered, head, position


@settings(max_examples=100, deadline=None, database=None)
@given(mutated_chains())
def test_any_single_mutation_is_found_at_the_first_affected_record(
    case: tuple[list[AuditRecord], ChainHead, int],
) -> None:
    tampered, head, position = case
    result = verify(tampered, head)
    assert not result.ok
    assert result.first_bad_seq == position


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(ENTRIES, min_size=1, max_size=12))
def test_any_untouched_chain_verifies(entries: list[AuditEntry]) -> None:
    records = chain_of(entries)
    assert verify(records, head_of(records)) == Verification(ok=True, records=len(entries))
