"""A loopback webhook receiver: what the gateway delivered, and whether the Standard Webhooks
reference library (an oracle nobody on this project wrote) accepted it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


class Inbox:
    """What the receiver saw: every request, and whether the reference library accepted it."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.status = 204  # what a verified message is answered with
        self.received: list[tuple[dict[str, str], bytes, bool]] = []
        self.lock = threading.Lock()

    def verified(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(headers, body) for headers, body, ok in self.received if ok]


@contextmanager
def webhook_inbox() -> Iterator[tuple[Inbox, str]]:
    """A receiver on a free loopback port and the URL to subscribe."""
    box = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(box.secret or "whsec_" + "A" * 32).verify(body, headers)
                ok = True
            except WebhookVerificationError:
                ok = False
            with box.lock:
                box.received.append((headers, body, ok))
            self.send_response(box.status if ok else 400)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box, f"http://127.0.0.1:{server.server_address[1]}/hooks/{secrets.token_hex(4)}"
    finally:
        server.shutdown()
        server.server_close()
