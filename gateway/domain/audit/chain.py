"""The audit trail is a hash chain: each record commits to the one before it, so an edit, a
deletion, a reordering or a truncation is found at the first record that no longer fits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened: who did what to which resource, when, and how it ended."""

    occurred_at: datetime
    actor: str
    action: str
    resource: str
    outcome: int
    request_id: str
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


def canonical_record(seq: int, prev_hash: str, fields: Mapping[str, object]) -> bytes:
    """What every chain here hashes (audit and consent ledger): `fields`, `seq`, `prev`; sorted, compact."""
    document = {"seq": seq, "prev": prev_hash, **fields}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def record_hash(seq: int, prev_hash: str, fields: Mapping[str, object]) -> str:
    """SHA-256 (hex) of `canonical_record`: what a chained record commits to."""
    return hashlib.sha256(canonical_record(seq, prev_hash, fields)).hexdigest()


def instant(moment: datetime) -> str:
    """A timestamp as the chains hash it: the UTC instant with microseconds."""
    # The instant, not the wall time: PostgreSQL hands timestamps back in the session's zone.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _fields(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": instant(entry.occurred_at),
        "actor": entry.actor,
        "action": entry.action,
        "resource": entry.resource,
        "outcome": entry.outcome,
        "request_id": entry.request_id,
        "details": entry.details,
    }


def canonical(seq: int, prev_hash: str, entry: AuditEntry) -> bytes:
    """A stable byte form: sorted keys, no whitespace, UTC ISO timestamps with microseconds."""
    return canonical_record(seq, prev_hash, _fields(entry))


def link(seq: int, prev_hash: str, entry: AuditEntry) -> AuditRecord:
    digest = record_hash(seq, prev_hash, _fields(entry))
    return AuditRecord(seq=seq, entry=entry, prev_hash=prev_hash, hash=digest)


def verify(records: Iterable[AuditRecord], head: ChainHead | None) -> Verification:
    """Walk the chain from the genesis; the head (kept apart) catches truncation of the tail."""
    expected_seq, expected_prev, count = 1, GENESIS, 0
    hash_at_head = GENESIS if head is not None and head.seq == 0 else None  # record head.seq's hash
    for record in records:
        count += 1
        if record.seq != expected_seq:
            return Verification(
                False, count, expected_seq, f"record {expected_seq} is missing or out of order"
            )
        if record.prev_hash != expected_prev:
            return Verification(False, count, record.seq, "the link to the previous record is broken")
        recomputed = link(record.seq, record.prev_hash, record.entry).hash
        if recomputed != record.hash:
            return Verification(False, count, record.seq, "the record was changed after it was written")
        expected_seq, expected_prev = record.seq + 1, record.hash
        if head is not None and record.seq == head.seq:
            hash_at_head = record.hash
    last_seq = expected_seq - 1
    if head is None:
        if count:
            return Verification(False, count, 1, "the chain head is missing")
        return Verification(True, 0)
    if head.seq > last_seq:
        return Verification(
            False, count, last_seq + 1, f"the chain was truncated: the head says {head.seq} records"
        )
    if head.hash != hash_at_head:
        return Verification(False, count, max(head.seq, 1), "the head does not match the record it names")
    if head.seq < last_seq:
        return Verification(
            False, count, head.seq + 1, f"records were added behind the head, which says {head.seq} records"
        )
    return Verification(True, count)
