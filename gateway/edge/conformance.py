"""What the sandbox saw of an app's traffic, for its conformance score (sandbox/conformance.py).

`ConformanceMiddleware` sits outermost and acts in the sandbox only, so it sees every answer: the
refusals of authentication (401, 403 `insufficient_scope`), of the rate limit (429) and of
idempotency (409), which leave their middleware as exceptions, as well as the handlers' answers.
It records, never trusting what the app says about itself:
- at the token endpoint, each token issued: the app and the DPoP binding read from the issued token
  itself (verified), the grant type and the client authentication from the request;
- at the PAR endpoint, each accepted request and its PKCE method;
- of an API call, a row when it is unsafe (POST, PUT, PATCH, DELETE) or was answered 401 with a
  delegated token, 403 `insufficient_scope`, 409 or 429, and a count otherwise. A refused call has
  no principal: its app is read from its access token (verified; expired ones too).

`ConformanceRecorder` buffers the rows per worker, like the usage meter: a periodic job, the
shutdown, every read and a full buffer write them, so a score sees this worker's calls at once and
the other workers' within the job's period.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth.client_auth import ASSERTION_TYPE
from gateway.auth.tokens import AccessToken, InvalidTokenError
from gateway.domain.clock import Clock
from gateway.domain.consent.models import Consent, ConsentStatus
from gateway.domain.environment import Environment
from gateway.edge.access import access_of
from gateway.edge.authentication import EnvironmentAuth
from gateway.edge.idempotency import UNSAFE_METHODS
from gateway.edge.principal import Principal
from sandbox.conformance import PRIVATE_KEY_JWT, Observation, ObservationKind

log = logging.getLogger("gateway.conformance")
TOKEN_PATH: Final = "/oauth2/token"  # noqa: S105 (a path, not a secret)
PAR_PATH: Final = "/oauth2/par"
MAX_CAPTURED: Final = 64 * 1024  # of a form or a token answer: far more than either ever is
MAX_BATCH: Final = 500


class ObservationStore(Protocol):
    def add(self, batch: Sequence[Observation]) -> None: ...
    def since(self, client_id: str, since: datetime) -> Sequence[Observation]: ...


class ConformanceRecorder:
    """Satisfies `sandbox.conformance.ConformanceLog`. The lock guards the buffer between the event
    loop, the threads of synchronous handlers and the flushing job."""

    def __init__(self, store: ObservationStore, clock: Clock, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self._pending: list[Observation] = []
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, observation: Observation) -> None:
        with self._lock:
            self._pending.append(observation)
            full = len(self._pending) >= self.max_batch
        if full:
            try:
                self.flush()
            except Exception:  # kept for the next flush: an observation never fails a call
                log.exception("conformance flush failed; %d observations wait", len(self._pending))

    def count_call(self, client_id: str) -> None:
        with self._lock:
            self._calls[client_id] = self._calls.get(client_id, 0) + 1

    def flush(self) -> None:
        """Write the buffer now; on failure it is kept for the next try."""
        now = self.clock.now()
        with self._lock:
            batch, self._pending = self._pending, []
            counted, self._calls = self._calls, {}
        counts = [
            Observation(client_id=client_id, kind=ObservationKind.CALLS, at=now, count=count)
            for client_id, count in sorted(counted.items())
        ]
        try:
            self.store.add([*batch, *counts])
        except Exception:
            with self._lock:
                self._pending[:0] = batch
                for client_id, count in counted.items():
                    self._calls[client_id] = self._calls.get(client_id, 0) + count
            raise

    def observations(self, client_id: str, since: datetime) -> Sequence[Observation]:
        self.flush()
        return self.store.since(client_id, since)

    def consent_changed(self, consent: Consent) -> None:
        """A consent listener: a revocation starts the app's revocation check (at the platform's time,
        not a test clock's, like every other observation)."""
        if consent.status is ConsentStatus.REVOKED:
            self.record(
                Observation(
                    client_id=consent.client_id,
                    kind=ObservationKind.CONSENT_REVOKED,
                    at=self.clock.now(),
                    consent_id=consent.id,
                )
            )


@dataclass(slots=True)
class _Answer:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)

    def start(self, message: Any) -> None:
        self.status = int(message["status"])
        self.headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in message.get("headers", ())
        }

    def refused(self, exc: HTTPException) -> None:
        self.status = exc.status_code
        self.headers = {name.lower(): value for name, value in (exc.headers or {}).items()}


class ConformanceMiddleware:
    def __init__(
        self, app: ASGIApp, *, recorder: ConformanceRecorder | None, auth: EnvironmentAuth, clock: Clock
    ) -> None:
        self.app = app
        self.recorder = recorder  # None: no sandbox in this deployment
        self.auth = auth  # the sandbox's
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.get("state", {})
        if self.recorder is None or state.get("environment") is not Environment.SANDBOX:
            await self.app(scope, receive, send)  # production is never observed
            return
        access = access_of(scope["route_handler"])
        if access is None:
            await self.app(scope, receive, send)
            return
        http: Any = scope  # an HTTP scope: only HTTP routes declare access
        if not access.public:
            await self._call(self.recorder, http, receive, send)
        elif http["method"] == "POST" and http["path"] in (TOKEN_PATH, PAR_PATH):
            await self._grant(self.recorder, http, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _call(self, recorder: ConformanceRecorder, scope: Any, receive: Receive, send: Send) -> None:
        arrived = self.clock.now()
        answer = _Answer()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.start(message)
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except HTTPException as exc:
            answer.refused(exc)
            raise
        finally:
            try:
                self._observe_call(recorder, scope, arrived, answer)
            except Exception:
                log.exception("conformance observation of a call failed")

    def _observe_call(
        self, recorder: ConformanceRecorder, scope: Any, arrived: datetime, answer: _Answer
    ) -> None:
        principal = scope["state"].get("principal")
        if isinstance(principal, Principal):
            client_id, consent_id = principal.client_id, principal.token.consent_id
        else:
            token = self._token_of(scope) if answer.status in (401, 403) else None
            if token is None:
                return  # no app to tell of: no token, or not one of ours
            client_id, consent_id = token.client_id, token.consent_id
        method: str = scope["method"]
        scope_refused = answer.status == 403 and "insufficient_scope" in answer.headers.get(
            "www-authenticate", ""
        )
        worth_a_row = (
            method in UNSAFE_METHODS
            or answer.status in (409, 429)
            or scope_refused
            or (answer.status == 401 and consent_id is not None)
        )
        if not worth_a_row:
            recorder.count_call(client_id)
            return
        recorder.record(
            Observation(
                client_id=client_id,
                kind=ObservationKind.CALL,
                at=arrived,
                status=answer.status,
                key=_header(scope, b"idempotency-key"),
                resource=f"{method} {scope['path']}",
                consent_id=consent_id,
                retry_after=_seconds(answer.headers.get("retry-after")),
                scope_refused=scope_refused,
            )
        )

    def _token_of(self, scope: Any) -> AccessToken | None:
        """The verified access token of a refused call (an expired one too: it is still the app's)."""
        value = (_header(scope, b"authorization") or "").partition(" ")[2].strip()
        if not value:
            return None
        try:
            return self.auth.verify(value)
        except InvalidTokenError:
            pass
        try:
            return self.auth.tokens.verify_signature(value)
        except InvalidTokenError:
            return None

    async def _grant(self, recorder: ConformanceRecorder, scope: Any, receive: Receive, send: Send) -> None:
        form = bytearray()
        answer = _Answer()

        async def tee() -> Any:
            message: Any = await receive()
            if message["type"] == "http.request":
                form.extend(message.get("body", b"")[: MAX_CAPTURED - len(form)])
            return message

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.start(message)
            elif message["type"] == "http.response.body":
                chunk: bytes = message.get("body", b"")
                answer.body.extend(chunk[: MAX_CAPTURED - len(answer.body)])
            await send(message)

        await self.app(scope, tee, observe)
        try:
            self._observe_grant(recorder, scope["path"], bytes(form), answer)
        except Exception:
            log.exception("conformance observation of a grant failed")

    def _observe_grant(self, recorder: ConformanceRecorder, path: str, raw: bytes, answer: _Answer) -> None:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        now = self.clock.now()
        if path == TOKEN_PATH and answer.status == 200:
            issued = json.loads(bytes(answer.body))["access_token"]
            token = self.auth.tokens.verify_signature(issued)  # whom it was issued to, not whom it says
            assertion_type = form.get("client_assertion_type")
            recorder.record(
                Observation(
                    client_id=token.client_id,
                    kind=ObservationKind.TOKEN,
                    at=now,
                    grant=form.get("grant_type"),
                    dpop=token.jkt is not None,
                    client_auth=PRIVATE_KEY_JWT if assertion_type == ASSERTION_TYPE else assertion_type,
                    consent_id=token.consent_id,
                )
            )
        elif path == PAR_PATH and answer.status == 201:
            # The server authenticated the client before it answered 201: its assertion names it.
            client_id = _assertion_issuer(form.get("client_assertion", "")) or form.get("client_id")
            if client_id:
                recorder.record(
                    Observation(
                        client_id=client_id,
                        kind=ObservationKind.PUSHED_REQUEST,
                        at=now,
                        grant=form.get("code_challenge_method"),
                    )
                )


def _header(scope: Any, name: bytes) -> str | None:
    for header, value in scope["headers"]:
        if header == name:
            return str(value.decode("latin-1"))
    return None


def _seconds(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _assertion_issuer(assertion: str) -> str | None:
    """The `iss` of a client assertion the server has accepted (its signature was checked there)."""
    try:
        part = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None
