"""Token issuance: client credentials with a never-used `private_key_jwt` assertion per request."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from bench.harness.load import Scenario
from bench.stage import BenchApp

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def scenario(app: BenchApp) -> Scenario:
    return Scenario(
        "token issuance",
        "POST",
        f"{app.prefix}/oauth2/token",
        "client credentials, private_key_jwt (ES256 verify, Redis jti) + ES256 token + audit",
        budget=">= 1,500 tokens/s",
        min_rps=1500,
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        form_prefix=_form_prefix(app),
    )


def _form_prefix(app: BenchApp) -> str:
    """The form up to `client_assertion=`: the driver appends a fresh assertion to each request."""
    head = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_assertion_type": ASSERTION_TYPE,
        }
    )
    return head + "&client_assertion="
