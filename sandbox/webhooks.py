"""Webhook magic values: an endpoint whose path ends in `/sbx-fail-N` fails N times, then succeeds.

Rules (docs/sandbox/magic-values.md):
- The URL's path (not its query) ends in `/sbx-fail-N`, N from 1 to 99 without a leading zero,
  matched case-sensitively; any query string may follow.
- Attempts 1 to N of each delivery to such an endpoint are recorded as a 503 from the receiver
  and are not sent; attempt N + 1 is really sent, to the URL as subscribed. Attempts count within
  the delivery's budget (`WEBHOOK_MAX_ATTEMPTS`, 8 by default), so with N at or above the budget
  the delivery goes `dead`; a redelivery starts a new budget and fails N times again.
- Backoff between the attempts is the real one: the failures are recorded, not hurried.
- Only the sandbox's lane sends through this wrapper; production sends every attempt as it is.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from partners.webhooks.models import OutgoingRequest, SendResult
from partners.webhooks.ports import Sender
from partners.webhooks.url_guard import UrlPolicy

FAILING_PATH: Final = re.compile(r"/sbx-fail-([1-9][0-9]?)\Z")
FAILURE_STATUS: Final = 503


def failures_before_success(url: str) -> int:
    """How many attempts of each delivery to `url` fail before one is sent: N of `/sbx-fail-N`, or 0."""
    found = FAILING_PATH.search(urlsplit(url).path)
    return int(found.group(1)) if found else 0


class FailingEndpoints:
    """Wraps the real sender: attempt n to a `/sbx-fail-N` endpoint fails without sending if n <= N."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        failures = failures_before_success(request.url)
        if request.attempt > failures:
            return self._sender.send(request, policy)
        return SendResult(
            status_code=FAILURE_STATUS,
            error=None,
            duration_ms=0,
            snippet=f"sandbox: /sbx-fail-{failures} fails attempt {request.attempt} of {failures}; not sent",
        )
