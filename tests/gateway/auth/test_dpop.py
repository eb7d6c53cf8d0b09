"""DPoP proof checks (RFC 9449 §4.3), the RFC 9449 examples and the RFC 7638 thumbprint vector."""

from __future__ import annotations

import base64
import json
import secrets
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from joserfc import jwk, jws
from joserfc.errors import SecurityWarning
from openplatform import DPoPKey

from gateway.auth.dpop import (
    PROOF_TYPE,
    DPoPProofError,
    DPoPVerifier,
    access_token_hash,
    normalise_htu,
)
from gateway.auth.replay import MemoryReplayCache, RedisReplayCache
from gateway.domain.jwk import thumbprint
from sandbox.clock import FrozenClock
from tests.conftest import REDIS_URL, require_redis
from tests.vectors import RFC7638_KEY, RFC7638_THUMBPRINT

# RFC 9449 §4.2 (Figure 4): the example DPoP proof for a token request, verbatim.
RFC9449_TOKEN_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa"
    "0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6Il"
    "AtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY2"
    "9tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNy"
    "JK70nfbV37xRZT3Lg"
)
RFC9449_TOKEN_IAT = 1562262616
# RFC 9449 §7.1 (Figure 13): the example proof for a protected resource request, with `ath`.
RFC9449_RESOURCE_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa"
    "0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6Il"
    "AtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm"
    "9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUl"
    "pS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC9449_RESOURCE_IAT = 1562262618
RFC9449_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC9449_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
# RFC 9449 §4.2's example key, and its thumbprint as the `cnf.jkt` of §6.1.
RFC9449_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
URL = "https://api.example.com/v1/market/instruments"
TOKEN_URL = "https://api.example.com/oauth2/token"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: str, index: int) -> dict[str, Any]:
    part = value.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def ec_key() -> jwk.ECKey:
    return jwk.ECKey.generate_key("P-256", private=True)


class Holder:
    """A client holding a DPoP key, signing proofs as it pleases (also wrongly)."""

    def __init__(self, key: Any = None, alg: str = "ES256") -> None:
        self.key = key if key is not None else ec_key()
        self.alg = alg

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return thumbprint(self.public_jwk)

    def proof(self, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A proof for GET `URL` at `NOW` by the SDK's signer; a member given as None is left out."""
        signer = DPoPKey(self.key, clock=NOW.timestamp)
        with warnings.catch_warnings():  # RFC 9864 deprecates the name EdDSA; clients still send it
            warnings.simplefilter("ignore", SecurityWarning)
            return signer.proof("GET", URL, claims=claims, header={"alg": self.alg, **(header or {})})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def verifier(clock: FrozenClock) -> DPoPVerifier:
    return DPoPVerifier(MemoryReplayCache(f"t{secrets.token_hex(4)}").first_use, clock)


def refused(
    verifier: DPoPVerifier, proof: str, error: str = "invalid_dpop_proof", **kwargs: Any
) -> DPoPProofError:
    kwargs.setdefault("method", "GET")
    kwargs.setdefault("url", URL)
    with pytest.raises(DPoPProofError) as info:
        verifier.verify(proof, **kwargs)
    assert info.value.error == error
    assert info.value.description
    return info.value


# Vectors -----------------------------------------------------------------------------------------


def test_rfc7638_thumbprint_vector() -> None:
    assert thumbprint(RFC7638_KEY) == RFC7638_THUMBPRINT


def test_rfc9449_example_key_thumbprint() -> None:
    assert thumbprint(RFC9449_JWK) == RFC9449_JKT


def test_rfc9449_ath_vector() -> None:
    assert access_token_hash(RFC9449_ACCESS_TOKEN) == RFC9449_ATH


@pytest.mark.parametrize(
    "key",
    [
        jwk.ECKey.generate_key("P-256", private=False),
        jwk.OKPKey.generate_key("Ed25519", private=False),
        jwk.RSAKey.generate_key(2048, private=False),
    ],
    ids=["EC", "OKP", "RSA"],
)
def test_thumbprint_agrees_with_joserfc(key: Any) -> None:
    assert thumbprint(key.as_dict(private=False)) == key.thumbprint()


def test_thumbprint_ignores_optional_members_and_refuses_unknown_types() -> None:
    assert thumbprint({**RFC9449_JWK, "kid": "k1", "use": "sig"}) == RFC9449_JKT
    with pytest.raises(ValueError, match="key type"):
        thumbprint({"kty": "XYZ"})
    with pytest.raises(ValueError, match="'y'"):
        thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})


def test_rfc9449_token_request_proof_structure() -> None:
    header = segment(RFC9449_TOKEN_PROOF, 0)
    claims = segment(RFC9449_TOKEN_PROOF, 1)
    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": RFC9449_JWK}
    assert claims == {
        "jti": "-BwC3ESc6acc2lTc",
        "htm": "POST",
        "htu": "https://server.example.com/token",
        "iat": RFC9449_TOKEN_IAT,
    }


def test_rfc9449_token_request_proof_verifies() -> None:
    clock = FrozenClock(datetime.fromtimestamp(RFC9449_TOKEN_IAT, UTC))
    verifier = DPoPVerifier(MemoryReplayCache("rfc").first_use, clock)
    proof = verifier.verify(RFC9449_TOKEN_PROOF, method="POST", url="https://server.example.com/token")
    assert (proof.jkt, proof.jti, proof.iat) == (RFC9449_JKT, "-BwC3ESc6acc2lTc", RFC9449_TOKEN_IAT)
    assert proof.jwk == RFC9449_JWK
    # the same proof a second time is a replay
    refused(verifier, RFC9449_TOKEN_PROOF, method="POST", url="https://server.example.com/token")


def test_rfc9449_resource_request_proof_verifies() -> None:
    assert segment(RFC9449_RESOURCE_PROOF, 1)["ath"] == RFC9449_ATH
    clock = FrozenClock(datetime.fromtimestamp(RFC9449_RESOURCE_IAT, UTC))
    verifier = DPoPVerifier(MemoryReplayCache("rfc").first_use, clock)
    proof = verifier.verify(
        RFC9449_RESOURCE_PROOF,
        method="GET",
        url="https://resource.example.org/protectedresource",
        access_token=RFC9449_ACCESS_TOKEN,
    )
    assert proof.jkt == RFC9449_JKT
    assert proof.jti == "e1j3V_bKic8-LAEB"


def test_rfc9449_proofs_are_stale_today(verifier: DPoPVerifier) -> None:
    error = refused(verifier, RFC9449_TOKEN_PROOF, method="POST", url="https://server.example.com/token")
    assert "iat" in error.description


def test_rfc9449_resource_proof_with_another_token_is_refused() -> None:
    clock = FrozenClock(datetime.fromtimestamp(RFC9449_RESOURCE_IAT, UTC))
    verifier = DPoPVerifier(MemoryReplayCache("rfc").first_use, clock)
    error = refused(
        verifier,
        RFC9449_RESOURCE_PROOF,
        url="https://resource.example.org/protectedresource",
        access_token=RFC9449_ACCESS_TOKEN + "x",
    )
    assert "ath" in error.description


# The happy path --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        ("ES256", jwk.ECKey.generate_key("P-256", private=True)),
        ("EdDSA", jwk.OKPKey.generate_key("Ed25519", private=True)),
        ("Ed25519", jwk.OKPKey.generate_key("Ed25519", private=True)),
        ("PS256", jwk.RSAKey.generate_key(2048, private=True)),
    ],
)
def test_correct_proof_verifies(verifier: DPoPVerifier, alg: str, key: Any) -> None:
    holder = Holder(key, alg)
    proof = verifier.verify(holder.proof(), method="GET", url=URL)
    assert proof.jkt == holder.jkt == key.thumbprint()
    assert proof.htm == "GET"
    assert proof.htu == URL
    assert proof.iat == int(NOW.timestamp())
    assert "d" not in proof.jwk


def test_correct_resource_proof_with_ath_and_nonce(verifier: DPoPVerifier) -> None:
    holder = Holder()
    token = "some.access.token"
    proof = holder.proof(htm="POST", ath=access_token_hash(token), nonce="n-1")
    result = verifier.verify(proof, method="POST", url=URL, access_token=token, nonce="n-1")
    assert result.jkt == holder.jkt


def test_ath_and_nonce_are_only_checked_when_asked(verifier: DPoPVerifier) -> None:
    assert verifier.verify(Holder().proof(ath="anything", nonce="x"), method="GET", url=URL)


@pytest.mark.parametrize(
    ("claimed", "request_url"),
    [
        ("https://API.Example.COM/v1/market/instruments", URL),
        ("HTTPS://api.example.com:443/v1/market/instruments", URL),
        (URL + "?market=HK&limit=2", URL),
        (URL + "#fragment", URL + "?cursor=abc"),
        ("http://127.0.0.1:80/oauth2/token", "http://127.0.0.1/oauth2/token"),
        ("http://127.0.0.1:8000/oauth2/token", "http://127.0.0.1:8000/oauth2/token"),
        ("https://api.example.com", "https://api.example.com/"),
    ],
)
def test_htu_normalisation_matches(verifier: DPoPVerifier, claimed: str, request_url: str) -> None:
    assert verifier.verify(Holder().proof(htu=claimed), method="GET", url=request_url)


def test_normalise_htu() -> None:
    assert normalise_htu("https://EXAMPLE.com:443/a/b?c=d#e") == "https://example.com/a/b"
    assert normalise_htu("http://example.com:8080") == "http://example.com:8080/"
    assert normalise_htu("http://[::1]:80/x") == "http://[::1]/x"
    for bad in ("/relative", "ftp://example.com/", "https://", "https://example.com:99999/"):
        with pytest.raises(ValueError):  # noqa: PT011 (urlsplit's own errors and ours)
            normalise_htu(bad)


# The negative matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proof",
    ["", "garbage", "a.b", "a.b.c.d", "a.b.c", "...", "x" * 9000 + ".a.b", "é.b.c"],
)
def test_not_a_compact_jws(verifier: DPoPVerifier, proof: str) -> None:
    refused(verifier, proof)


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "DPOP+JWT "])
def test_wrong_typ(verifier: DPoPVerifier, typ: str | None) -> None:
    error = refused(verifier, Holder().proof(header={"typ": typ}))
    assert "typ" in error.description


def test_algorithms_outside_the_allow_list(verifier: DPoPVerifier) -> None:
    rs256 = Holder(jwk.RSAKey.generate_key(2048, private=True), "RS256").proof()
    assert "alg" in refused(verifier, rs256).description
    es384 = Holder(jwk.ECKey.generate_key("P-384", private=True), "ES384").proof()
    assert "alg" in refused(verifier, es384).description
    holder = Holder()
    good = holder.proof()
    head, payload, _ = good.split(".")
    header = segment(good, 0)
    unsigned = b64url(json.dumps({**header, "alg": "none"}).encode()) + f".{payload}."
    assert "alg" in refused(verifier, unsigned).description
    # HS256 "signed" with the proof's own public key, as in an algorithm-confusion attack
    secret = jwk.OctKey.import_key(json.dumps(holder.public_jwk).encode())
    hs256 = jws.serialize_compact({**header, "alg": "HS256"}, b"{}", secret, algorithms=["HS256"])
    assert "alg" in refused(verifier, hs256).description
    assert head  # the original header segment was well formed


def test_verifier_refuses_symmetric_or_unknown_algorithms(clock: FrozenClock) -> None:
    for algorithms in (("HS256",), ("none",), ("ES256", "RS256"), ()):
        with pytest.raises(ValueError, match="asymmetric"):
            DPoPVerifier(MemoryReplayCache("x").first_use, clock, algorithms=algorithms)


def test_missing_jwk(verifier: DPoPVerifier) -> None:
    error = refused(verifier, Holder().proof(header={"jwk": None}))
    assert "jwk" in error.description
    holder = Holder()
    good = holder.proof()
    _, payload, signature = good.split(".")
    header = {**segment(good, 0), "jwk": "not a key"}
    refused(verifier, f"{b64url(json.dumps(header).encode())}.{payload}.{signature}")


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_private_key_in_jwk(verifier: DPoPVerifier, member: str) -> None:
    holder = Holder()
    error = refused(verifier, holder.proof(header={"jwk": {**holder.public_jwk, member: "AAAA"}}))
    assert "public key only" in error.description


def test_signature_by_another_key(verifier: DPoPVerifier) -> None:
    holder = Holder()
    forged = holder.proof(header={"jwk": Holder().public_jwk})
    assert "signature" in refused(verifier, forged).description


def test_jwk_of_the_wrong_type_for_alg(verifier: DPoPVerifier) -> None:
    holder = Holder(jwk.OKPKey.generate_key("Ed25519", private=True), "EdDSA")
    proof = holder.proof(header={"jwk": Holder().public_jwk})  # an EC key for an EdDSA signature
    assert "signature" in refused(verifier, proof).description


def test_tampered_claims(verifier: DPoPVerifier) -> None:
    head, _, signature = Holder().proof().split(".")
    other = b64url(json.dumps({"jti": "x", "htm": "GET", "htu": URL, "iat": int(NOW.timestamp())}).encode())
    assert "signature" in refused(verifier, f"{head}.{other}.{signature}").description


def test_claims_not_an_object(verifier: DPoPVerifier) -> None:
    holder = Holder()
    header = {"typ": PROOF_TYPE, "alg": "ES256", "jwk": holder.public_jwk}
    for payload in (b"[1, 2]", b"not json"):
        proof = jws.serialize_compact(header, payload, holder.key, algorithms=["ES256"])
        refused(verifier, proof)


@pytest.mark.parametrize("htm", ["POST", "get", None, 1])
def test_wrong_htm(verifier: DPoPVerifier, htm: Any) -> None:
    proof = Holder().proof(htm=htm)
    assert "htm" in refused(verifier, proof, method="GET").description


@pytest.mark.parametrize(
    "htu",
    [
        "https://api.example.com/v1/market/funds",
        "https://api.example.com/sandbox/v1/market/instruments",
        "http://api.example.com/v1/market/instruments",
        "https://api.example.com:8443/v1/market/instruments",
        "https://evil.example.com/v1/market/instruments",
        "https://api.example.com/v1/market/instruments/",
        "/v1/market/instruments",
        "not a url",
    ],
)
def test_wrong_htu(verifier: DPoPVerifier, htu: str) -> None:
    assert "htu" in refused(verifier, Holder().proof(htu=htu)).description


def test_missing_htu(verifier: DPoPVerifier) -> None:
    assert "htu" in refused(verifier, Holder().proof(htu=None)).description


@pytest.mark.parametrize("offset", [-61, 61, -3600, 86_400])
def test_stale_or_future_iat(verifier: DPoPVerifier, offset: int) -> None:
    proof = Holder().proof(iat=int(NOW.timestamp()) + offset)
    assert "iat" in refused(verifier, proof).description


@pytest.mark.parametrize("offset", [-60, 60])
def test_iat_at_the_edge_of_the_window(verifier: DPoPVerifier, offset: int) -> None:
    assert verifier.verify(Holder().proof(iat=int(NOW.timestamp()) + offset), method="GET", url=URL)


def test_the_window_follows_the_clock(verifier: DPoPVerifier, clock: FrozenClock) -> None:
    proof = Holder().proof()
    clock.advance(timedelta(seconds=61))
    refused(verifier, proof)


@pytest.mark.parametrize("iat", ["1700000000", 1.5, True, None])
def test_iat_must_be_a_numeric_date(verifier: DPoPVerifier, iat: Any) -> None:
    proof = Holder().proof(iat=iat)
    assert "iat" in refused(verifier, proof).description


@pytest.mark.parametrize("jti", [None, "", 42, "x" * 257])
def test_jti_is_required(verifier: DPoPVerifier, jti: Any) -> None:
    assert "jti" in refused(verifier, Holder().proof(jti=jti)).description


def test_replayed_jti(verifier: DPoPVerifier) -> None:
    proof = Holder().proof()
    verifier.verify(proof, method="GET", url=URL)
    assert "replayed" in refused(verifier, proof).description


def test_replay_is_scoped_by_key(verifier: DPoPVerifier) -> None:
    verifier.verify(Holder().proof(jti="same"), method="GET", url=URL)
    verifier.verify(Holder().proof(jti="same"), method="GET", url=URL)  # another key, another scope


def test_replay_ttl_is_twice_the_window(clock: FrozenClock) -> None:
    seen: list[tuple[str, int]] = []

    def first_use(key: str, ttl: int) -> bool:
        seen.append((key, ttl))
        return True

    holder = Holder()
    DPoPVerifier(first_use, clock, iat_window_seconds=30).verify(
        holder.proof(jti="j1"), method="GET", url=URL
    )
    assert seen == [(f"dpop:{holder.jkt}:j1", 60)]


def test_replayed_jti_across_two_workers_in_memory_cache(clock: FrozenClock) -> None:
    shared = MemoryReplayCache("one-process")
    first, second = DPoPVerifier(shared.first_use, clock), DPoPVerifier(shared.first_use, clock)
    proof = Holder().proof()
    first.verify(proof, method="GET", url=URL)
    refused(second, proof)


@pytest.mark.redis
def test_replayed_jti_across_two_workers_through_redis(clock: FrozenClock) -> None:
    require_redis()
    namespace = f"t{secrets.token_hex(4)}"
    clients = [redis.Redis.from_url(REDIS_URL), redis.Redis.from_url(REDIS_URL)]
    try:
        workers = [DPoPVerifier(RedisReplayCache(c, namespace).first_use, clock) for c in clients]
        proof = Holder().proof()
        workers[0].verify(proof, method="GET", url=URL)
        assert "replayed" in refused(workers[1], proof).description
        workers[1].verify(Holder().proof(), method="GET", url=URL)
    finally:
        for client in clients:
            client.close()


def test_wrong_ath(verifier: DPoPVerifier) -> None:
    token = "the.access.token"
    for ath in (None, "", access_token_hash("another.token"), access_token_hash(token) + "=", 7):
        error = refused(verifier, Holder().proof(ath=ath), access_token=token)
        assert "ath" in error.description


def test_non_ascii_access_token(verifier: DPoPVerifier) -> None:
    assert "ASCII" in refused(verifier, Holder().proof(ath="x"), access_token="tökén").description


def test_missing_or_wrong_nonce(verifier: DPoPVerifier) -> None:
    for given in (None, "stale", 1):
        error = refused(verifier, Holder().proof(nonce=given), "use_dpop_nonce", nonce="fresh")
        assert "nonce" in error.description
