"""A regional bank: white-label suitability and advice for its own clients, then orders for a
brokerage customer who consented in their browser.

Run from the repository root after `make run`: `python sdk/examples/bank.py`. The script prints the
consent screen's URL; sign in there as a demo customer (`var/demo/customers.json`), approve, and paste
the address the browser was sent to (https://app.example/callback?...).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openplatform import Client
from openplatform.errors import APIError

# Where `make run` serves and keeps its demo credentials.
BASE_URL = os.environ.get("GATEWAY_BASE_URL", "http://127.0.0.1:8000")
VAR_DIR = Path(os.environ.get("GATEWAY_VAR_DIR", "var"))

REDIRECT_URI = "https://app.example/callback"


def white_label(client: Client) -> None:
    """Suitability and a proposal for the bank's own client: no brokerage customer involved."""
    check = client.compliance.create_suitability_check(
        customer={"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"},
        product={"risk": "R4", "product_type": "fund"},
    )
    print("suitability:", check.decision, [reason.code for reason in check.reasons])
    proposal = client.advisory.create_white_label_proposal(
        amount={"amount": "100000.00", "currency": "CNY"},
        investor_class="ordinary",
        jurisdiction="CN",
        risk_level="C3",
    )
    print("proposal:", proposal.id, [(h.instrument_id, h.weight) for h in proposal.holdings])


def orders_for_a_customer(client: Client) -> None:
    consent = client.consents.create(
        permissions=["accounts:read", "orders:read", "orders:write"],
        purpose="Invest from the bank app",
        expires_at=datetime.now(UTC) + timedelta(days=90),
        limits=[
            {
                "type": "order_placement",
                "max_notional_per_order": "10000.00",
                "currency": "CNY",
                "instruments": ["FUND"],
            }
        ],
    )
    request = client.oauth.authorization_request(consent_id=consent.id, redirect_uri=REDIRECT_URI)
    print("Send the customer to:", request.url)
    callback = input("The address the browser came back to: ").strip()
    grant = client.oauth.exchange_code(callback, request)  # checks iss (RFC 9207) and state
    customer = client.for_customer(grant)

    fund = client.market.list_funds(market="CN", limit=1).first_page().data[0]  # the bank's own scope
    preview = customer.orders.preview(
        instrument_id=fund.id, side="buy", order_type="fund_subscription", amount="500.00"
    )
    print(
        "can place:", preview.can_place, [check.code for check in preview.checks if check.status != "passed"]
    )
    try:
        order = customer.orders.place(
            client_order_id=f"bank-{secrets.token_hex(4)}",
            instrument_id=fund.id,
            side="buy",
            order_type="fund_subscription",
            amount="500.00",
            acknowledgement_token=preview.acknowledgement_token,
        )
        print("order:", order.order_id, order.status)
    except APIError as error:
        print("refused:", error.status, error.title, error.detail, error.rule)


def main() -> None:
    credentials = json.loads((VAR_DIR / "demo" / "credentials.json").read_text())
    bank = next(
        c for c in credentials if c["partner"] == "Demo Regional Bank" and c["environment"] == "production"
    )
    client = Client(
        bank["client_id"],
        bank["private_jwk"],
        base_url=BASE_URL,
        allow_insecure_loopback=True,  # production over http only on this machine
    )
    with client:
        white_label(client)
        orders_for_a_customer(client)


if __name__ == "__main__":
    main()
