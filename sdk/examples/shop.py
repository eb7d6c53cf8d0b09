"""An e-commerce platform: a shopper converts points into fund shares, and the shop hears every
state change through a signed webhook that it verifies.

Run from the repository root after `make run`: `python sdk/examples/shop.py`. It uses the sandbox,
where webhooks may go to http on this machine; sign in as a sandbox persona when asked (li.wei,
password sandbox-pass: docs/sandbox/personas.md).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openplatform import Client, webhooks

# Where `make run` serves and keeps its demo credentials.
BASE_URL = os.environ.get("GATEWAY_BASE_URL", "http://127.0.0.1:8000")
VAR_DIR = Path(os.environ.get("GATEWAY_VAR_DIR", "var"))

REDIRECT_URI = "https://app.example/callback"


def receiver(secret: list[str], events: queue.Queue[webhooks.WebhookEvent]) -> ThreadingHTTPServer:
    """The shop's webhook endpoint: verify, then act on the event once (its id is the key)."""
    cache = webhooks.InMemoryReplayCache()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                event = webhooks.verify(body, dict(self.headers.items()), secret, replay_cache=cache)
            except webhooks.WebhookVerificationError as error:
                self.send_response(400)
                print("refused a delivery:", error.reason)
            else:
                events.put(event)
                self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    credentials = json.loads((VAR_DIR / "demo" / "credentials.json").read_text())
    shop = next(c for c in credentials if c["partner"] == "Demo ShopMall" and c["environment"] == "sandbox")
    events: queue.Queue[webhooks.WebhookEvent] = queue.Queue()
    secret: list[str] = []
    server = receiver(secret, events)
    with Client(shop["client_id"], shop["private_jwk"], base_url=BASE_URL) as client:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        subscription = client.webhooks.create_subscription(url=url, event_types=["conversion.*", "consent.*"])
        secret.append(subscription.secret)  # shown once: keep it in your secret store

        fund = client.market.list_funds(market="CN", limit=1).first_page().data[0]
        consent = client.consents.create(
            permissions=["points:convert"],
            purpose="Turn your shopping points into fund shares",
            expires_at=datetime.now(UTC) + timedelta(days=180),
            limits=[
                {
                    "type": "points_conversion",
                    "funds": [fund.fund.fund_code if fund.fund else ""],
                    "max_points_per_month": 5000,
                    "max_points_per_conversion": 2000,
                }
            ],
        )
        request = client.oauth.authorization_request(consent_id=consent.id, redirect_uri=REDIRECT_URI)
        print("Send the shopper to:", request.url)
        grant = client.oauth.exchange_code(input("The address the browser came back to: ").strip(), request)
        shopper = client.for_customer(grant)

        quote = shopper.points.create_quote(instrument_id=fund.id, points=1234)
        print("quote:", quote.points, "points ->", quote.amount, quote.currency, "until", quote.expires_at)
        conversion = shopper.points.convert(
            partner_conversion_id=f"basket-{secrets.token_hex(4)}",
            quote_id=quote.quote_id,
            acknowledgement_token=quote.acknowledgement_token,
        )
        print("conversion:", conversion.conversion_id, conversion.state)
        event = events.get(timeout=30)
        print("webhook:", event.type, event.data)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
