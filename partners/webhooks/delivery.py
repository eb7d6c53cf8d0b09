"""The delivery loop: fan out outbox rows, send what is due, record each attempt; both environments.

It runs as `gateway worker` (until SIGTERM/SIGINT, or `--once`) and, in the embedded default, as a
background task of the server (`WEBHOOKS_EMBEDDED=1`). Several may run at once: deliveries are
leased one worker at a time, so a delivery is never sent twice in parallel.

Each environment is a lane: its webhook service and the sender of its attempts (the sandbox's
sender answers its magic failing endpoints itself: sandbox/webhooks.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from partners.webhooks.ports import Sender
from partners.webhooks.service import WebhookService

log = logging.getLogger("gateway.webhooks")


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Lane:
    """One environment's deliveries and the sender of their attempts."""

    service: WebhookService
    sender: Sender


class DeliveryWorker:
    def __init__(self, lanes: Sequence[Lane], *, name: str | None = None, batch: int = 20) -> None:
        self.lanes = list(lanes)
        self.name = name or worker_name()
        self.batch = batch

    def run_once(self) -> int:
        """One pass over every environment; answers the attempts made."""
        return sum(lane.service.dispatch(lane.sender, self.name, self.batch) for lane in self.lanes)

    def run(self, stop: threading.Event, every_seconds: float = 1.0) -> None:
        """Pass after pass until `stop` is set; a full batch goes on at once, an idle pass waits."""
        while not stop.is_set():
            try:
                busy = self.run_once() >= self.batch
            except Exception:
                log.exception("webhook delivery pass failed; retrying")
                busy = False
            if not busy:
                stop.wait(every_seconds)
