"""The quickstart: copy-paste Python on the SDK that makes an app's first sandbox call."""

from __future__ import annotations

import json
from typing import Final

from gateway.domain.scopes import PARTNER_OWN
from gateway.web.portal.app_head import keys
from partners.models import App

# What the quickstart calls first, by scope: read-only catalogue operations a fresh app may call
# (scope, SDK method, operation id).
FIRST_CALLS: Final = (
    ("funds:read", "market.list_funds", "listFunds"),
    ("market:read", "market.list_instruments", "listInstruments"),
)


def quickstart(app: App, base_url: str) -> str:
    """The client from the downloaded key, then a first call."""
    key = keys(app)[0]
    call = next(((scope, method, op) for scope, method, op in FIRST_CALLS if scope in app.scopes), None)
    # Client credentials carry only the app's own scopes: a customer-delegated one needs a consent.
    own = sorted(app.scopes & PARTNER_OWN) or sorted(app.scopes)
    scope = call[0] if call else own[0]
    lines = [
        "# pip install ./sdk  (the Python SDK, package `openplatform`, in the gateway's repository)",
        "from pathlib import Path",
        "",
        f"from openplatform import Client{', to_json' if call else ''}",
        "",
        "client = Client(",
        f"    {json.dumps(app.client_id)}, Path({json.dumps(key['kid'] + '.private.jwk.json')}),",
        f"    base_url={json.dumps(base_url)}, scopes=[{json.dumps(scope)}],",
        ")",
    ]
    if call is None:
        lines += ["print(client.access_token())  # no catalogue call in your scopes: see the API reference"]
    else:
        _, method, operation = call
        lines += [
            f"answer = client.{method}(limit=5).first_page()  # {operation}",
            "print(to_json(answer))",
        ]
    return "\n".join(lines) + "\n"
