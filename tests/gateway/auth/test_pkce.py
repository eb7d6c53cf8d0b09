from __future__ import annotations

import pytest

from gateway.auth import pkce

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc_7636_appendix_b() -> None:
    assert pkce.challenge_of(VERIFIER) == CHALLENGE
    assert pkce.verify(VERIFIER, CHALLENGE)
    assert pkce.is_valid_challenge(CHALLENGE)


@pytest.mark.parametrize(
    "verifier",
    [
        VERIFIER[:-1] + "l",  # one character off
        "a" * 42,  # too short (RFC 7636 §4.1: 43 to 128)
        "a" * 129,  # too long
        VERIFIER[:42] + "+",  # not unreserved
        CHALLENGE,  # `plain`: the challenge itself is not a verifier
        "",
    ],
)
def test_wrong_verifiers_are_refused(verifier: str) -> None:
    assert not pkce.verify(verifier, CHALLENGE)


@pytest.mark.parametrize("challenge", ["", "x" * 42, "x" * 44, CHALLENGE[:42] + "=", CHALLENGE[:42] + "+"])
def test_only_s256_shaped_challenges_are_valid(challenge: str) -> None:
    assert not pkce.is_valid_challenge(challenge)
