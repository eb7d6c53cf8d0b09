from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from gateway.auth.keys import PUBLICATION_GRACE, SIGNING_ALGORITHM, KeyRing
from sandbox.clock import FrozenClock
from tests.vectors import RFC7638_KEY, RFC7638_THUMBPRINT

TOKEN_TTL = timedelta(minutes=10)
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
def ring(tmp_path: Path, clock: FrozenClock) -> KeyRing:
    keys = KeyRing(tmp_path / "production", clock, token_ttl=TOKEN_TTL)
    keys.ensure()
    return keys


def kids(keys: KeyRing) -> set[str]:
    return {key["kid"] for key in keys.jwks()["keys"]}


def signer(keys: KeyRing) -> str:
    (active,) = [entry for entry in keys.entries() if entry.retired_at is None]
    assert keys.signing_key().kid == active.kid
    return active.kid


def signed_by(keys: KeyRing) -> str:
    key = keys.signing_key()
    return jwt.encode({"alg": SIGNING_ALGORITHM, "kid": key.kid}, {"sub": "probe"}, key)


def verifies(keys: KeyRing, token: str) -> bool:
    try:
        jwt.decode(token, keys.verification_keys(), algorithms=[SIGNING_ALGORITHM])
    except (JoseError, ValueError):
        return False
    return True


def test_ensure_creates_exactly_one_signing_key(ring: KeyRing) -> None:
    ring.ensure()  # a second start keeps the existing key
    (entry,) = ring.entries()
    assert entry.retired_at is None
    assert ring.signing_key().kid == entry.kid
    assert kids(ring) == {entry.kid}
    assert ring.jwks()["keys"][0]["alg"] == SIGNING_ALGORITHM


def test_ring_without_a_key_refuses_to_sign(tmp_path: Path, clock: FrozenClock) -> None:
    keys = KeyRing(tmp_path / "empty", clock, token_ttl=TOKEN_TTL)
    with pytest.raises(RuntimeError, match="no signing keys"):
        keys.signing_key()


def test_rotation_makes_the_new_key_the_signer_and_keeps_the_old_one_published(ring: KeyRing) -> None:
    old = signer(ring)
    old_token = signed_by(ring)
    new = ring.rotate()
    assert new.kid != old
    assert ring.signing_key().kid == new.kid
    assert kids(ring) == {old, new.kid}
    assert ring.knows(old)
    assert verifies(ring, old_token)
    assert verifies(ring, signed_by(ring))


def test_retired_key_is_dropped_after_token_ttl_plus_grace(ring: KeyRing, clock: FrozenClock) -> None:
    old = signer(ring)
    old_token = signed_by(ring)
    new = ring.rotate()
    clock.advance(TOKEN_TTL + PUBLICATION_GRACE - timedelta(seconds=1))
    assert kids(ring) == {old, new.kid}
    assert verifies(ring, old_token)
    clock.advance(timedelta(seconds=2))
    assert kids(ring) == {new.kid}
    assert not ring.knows(old)
    assert not verifies(ring, old_token)
    assert ring.signing_key().kid == new.kid


def test_next_rotation_prunes_expired_keys_from_the_file(ring: KeyRing, clock: FrozenClock) -> None:
    first = signer(ring)
    second = ring.rotate().kid
    clock.advance(TOKEN_TTL + PUBLICATION_GRACE + timedelta(seconds=1))
    third = ring.rotate().kid
    assert [entry.kid for entry in ring.entries()] == [second, third]
    assert first not in kids(ring)


def test_second_worker_sees_a_rotation_made_by_the_first(tmp_path: Path, clock: FrozenClock) -> None:
    first = KeyRing(tmp_path / "production", clock, token_ttl=TOKEN_TTL)
    first.ensure()
    second = KeyRing(tmp_path / "production", clock, token_ttl=TOKEN_TTL)
    second.ensure()
    original = second.signing_key().kid
    assert first.signing_key().kid == original
    rotated = first.rotate()  # immediately: no sleep lets the file's timestamp tick over
    assert second.signing_key().kid == rotated.kid
    assert kids(second) == {original, rotated.kid}
    assert verifies(second, signed_by(first))


def test_ring_file_is_readable_by_its_owner_only(ring: KeyRing, tmp_path: Path) -> None:
    path = tmp_path / "production" / "ring.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring.rotate()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_jwks_never_publishes_private_members(ring: KeyRing) -> None:
    ring.rotate()
    published: list[dict[str, Any]] = ring.jwks()["keys"]
    assert len(published) == 2
    for key in published:
        assert not PRIVATE_MEMBERS & key.keys(), key
        assert {"kty", "crv", "x", "y", "kid"} <= key.keys()


def test_rfc7638_thumbprint_vector() -> None:
    assert RSAKey.import_key(RFC7638_KEY).thumbprint() == RFC7638_THUMBPRINT
