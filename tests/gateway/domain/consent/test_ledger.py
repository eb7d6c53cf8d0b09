"""The hash-chained consent ledger: every step is an event, and any edit, deletion, reordering or
truncation is found at its first bad event."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from gateway.domain.audit.chain import GENESIS, ChainHead, canonical_record
from gateway.domain.consent.models import (
    ConsentEvent,
    EventKind,
    canonical_event,
    link_event,
    verify_ledger,
)
from tests.gateway.domain.consent.world import BANK, BASIC, POINTS, SHOP, T0, World

# The ledger


def populated(world: World) -> list[ConsentEvent]:
    first = world.authorized(limits=(POINTS,))
    world.clock.advance(timedelta(minutes=5))
    world.service.revoke(first.id, by="customer", party_id="cus_1")
    second = world.create(partner_id=SHOP)
    world.service.reject(second.id, customer_id="cus_2")
    third = world.authorized(expires_in=timedelta(days=1))
    world.clock.advance(timedelta(days=1))
    world.service.expire(third.id)
    return list(world.repository.events())


def test_one_event_per_step_and_the_ledger_verifies(world: World) -> None:
    events = populated(world)
    assert [(event.seq, event.kind) for event in events] == [
        (1, EventKind.CREATED),
        (2, EventKind.AUTHORIZED),
        (3, EventKind.REVOKED),
        (4, EventKind.CREATED),
        (5, EventKind.REJECTED),
        (6, EventKind.CREATED),
        (7, EventKind.AUTHORIZED),
        (8, EventKind.EXPIRED),
    ]
    assert verify_ledger(events, world.repository.head()) is None
    assert world.repository.head() == ChainHead(8, events[-1].hash)
    assert events[0].details["limits"] == [POINTS.as_document()]
    assert events[0].details["cross_border"] is False
    assert events[1].details == {
        "customer_id": "cus_1",
        "granted": sorted(str(scope) for scope in BASIC),
        "opted_in_high_risk": True,
        "cross_border": False,
    }
    assert events[2].at == T0 + timedelta(minutes=5)
    assert events[7].actor == "system"
    assert [event.kind for event in world.repository.events(events[3].consent_id)] == [
        EventKind.CREATED,
        EventKind.REJECTED,
    ]


EDITS: dict[str, dict[str, Any]] = {
    "consent_id": {"consent_id": "cns_other"},
    "kind": {"kind": EventKind.REVOKED},
    "at": {"at": T0 - timedelta(days=1)},
    "actor": {"actor": "customer:cus_9"},
    "details": {"details": {"by": "partner"}},
    "hash": {"hash": "f" * 64},
}


@pytest.mark.parametrize("position", [1, 4, 8])
@pytest.mark.parametrize("change", sorted(EDITS))
def test_an_edit_is_found_at_its_seq(world: World, position: int, change: str) -> None:
    events = populated(world)
    events[position - 1] = replace(events[position - 1], **EDITS[change])
    assert verify_ledger(events, world.repository.head()) == position


def forge(event: ConsentEvent, prev_hash: str | None = None, **changes: Any) -> ConsentEvent:
    """An edit whose hash is recomputed, as someone who knows the canonical form would do it."""
    edited = replace(event, **changes)
    return link_event(edited.seq, event.prev_hash if prev_hash is None else prev_hash, edited.unlinked())


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(world: World) -> None:
    events = populated(world)
    events[2] = forge(events[2], details={"by": "partner"})
    assert verify_ledger(events, world.repository.head()) == 4


def test_a_forged_last_event_with_a_recomputed_hash_is_caught_by_the_head(world: World) -> None:
    events = populated(world)
    events[7] = forge(events[7], actor="customer:cus_1")
    assert verify_ledger(events, world.repository.head()) == 8


@pytest.mark.parametrize("position", [1, 3, 7, 8])
def test_a_deletion_is_found_at_its_seq(world: World, position: int) -> None:
    events = populated(world)
    del events[position - 1]
    assert verify_ledger(events, world.repository.head()) == position


@pytest.mark.parametrize("position", [1, 4, 7])
def test_a_reordering_is_found_at_the_first_moved_seq(world: World, position: int) -> None:
    events = populated(world)
    events[position - 1], events[position] = events[position], events[position - 1]
    assert verify_ledger(events, world.repository.head()) == position


@pytest.mark.parametrize("kept", [0, 1, 5, 7])
def test_a_truncated_tail_is_found_at_the_first_missing_seq(world: World, kept: int) -> None:
    events = populated(world)
    assert verify_ledger(events[:kept], world.repository.head()) == kept + 1


def test_a_head_that_no_longer_matches_the_event_it_names_is_found_there(world: World) -> None:
    # A head rewound consistently (seq and the real hash) hides a truncation: ADR 0004's limit.
    events = populated(world)
    assert verify_ledger(events[:5], ChainHead(5, "e" * 64)) == 5
    assert verify_ledger(events, ChainHead(8, events[6].hash)) == 8


def test_events_behind_the_head_are_found_at_the_first_of_them(world: World) -> None:
    events = populated(world)
    assert verify_ledger(events, ChainHead(6, events[5].hash)) == 7


def test_a_missing_head_is_found(world: World) -> None:
    assert verify_ledger(populated(world), None) == 1


def test_an_empty_ledger_verifies_and_an_emptied_one_does_not(world: World) -> None:
    assert verify_ledger([], None) is None
    assert world.repository.head() is None
    populated(world)
    assert verify_ledger([], world.repository.head()) == 1


def test_the_ledger_hashes_events_as_the_audit_chain_hashes_records(world: World) -> None:
    """One canonical form for both chains: sorted compact JSON of the fields, `seq` and `prev`."""
    first = populated(world)[0]
    document = json.loads(canonical_event(first.seq, first.prev_hash, first.unlinked()))
    assert document == {
        "seq": 1,
        "prev": GENESIS,
        "consent_id": first.consent_id,
        "kind": "created",
        "at": "2026-03-02T09:00:00.000000+00:00",
        "actor": f"partner:{BANK}",
        "details": dict(first.details),
    }
    fields = {key: value for key, value in document.items() if key not in {"seq", "prev"}}
    assert canonical_event(1, GENESIS, first.unlinked()) == canonical_record(1, GENESIS, fields)
    assert first.hash == hashlib.sha256(canonical_record(1, GENESIS, fields)).hexdigest()
