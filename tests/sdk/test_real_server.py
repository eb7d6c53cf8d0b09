"""The SDK against a real server on a free port: `gateway migrate | seed | serve`, spoken to over TCP.

The server requires DPoP nonces (RFC 9449 §8-9), so every first call to the token endpoint and to
the API is refused with `use_dpop_nonce` and retried by the SDK. Faults are forced by a loopback
forward proxy between the SDK and the server: the SDK's requests keep their real URLs (so their
DPoP proofs name the server), and the proxy can lose an answer (503 after the server ran the call)
or refuse a call (429 with Retry-After) before it reaches the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import openplatform
import pytest
from openplatform import AsyncClient, Client, DelegatedGrant, ResponseInfo, RetryInfo
from openplatform.errors import InvalidAuthorizationResponseError, NotFoundError
from openplatform.webhooks import InMemoryReplayCache, WebhookVerificationError, verify

from gateway.demo import DEMO_REDIRECT_URI
from gateway.demo import approve_in_browser as approve_in_browser_as
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from sandbox.personas import load_personas
from tests.conftest import require_redis
from tests.e2e.servers import Launch, RealServer
from tests.receiver import Inbox, webhook_inbox
from tests.support import wait_until

pytestmark = pytest.mark.slow

BANK = "Demo Regional Bank"
HOP_BY_HOP = frozenset(
    {"connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """One single-worker server for the SDK's tests, with DPoP nonces required."""
    require_redis()
    launch = Launch(
        "sqlite", tmp_path_factory.mktemp("sdk-server"), workers=1, env={"DPOP_NONCE_REQUIRED": "1"}
    )
    try:
        yield launch.start()
    finally:
        launch.stop()


@dataclass(frozen=True, slots=True)
class Credential:
    client_id: str
    private_jwk: dict[str, Any]


def new_app(server: RealServer, environment: Environment, *scopes: Scope) -> Credential:
    app = server.new_app(environment=environment, scopes=scopes, redirect_uris=(DEMO_REDIRECT_URI,))
    return Credential(app.client_id, app.private_jwk)


def demo_credential(server: RealServer, partner: str, environment: Environment) -> Credential:
    items = json.loads((server.settings.demo_dir / "credentials.json").read_text())
    item = next(i for i in items if i["partner"] == partner and i["environment"] == environment.value)
    return Credential(item["client_id"], item["private_jwk"])


@dataclass
class Recorder:
    """What the hooks saw, in order."""

    responses: list[ResponseInfo] = field(default_factory=list)
    retries: list[RetryInfo] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        return {"on_response": self.responses.append, "on_retry": self.retries.append}

    def trail(self) -> list[tuple[str, str, int]]:
        return [(r.method, urlsplit(r.url).path, r.status) for r in self.responses]


def sdk(
    server: RealServer, credential: Credential, recorder: Recorder | None = None, **kwargs: Any
) -> Client:
    hooks = recorder.kwargs() if recorder else {}
    return Client(
        credential.client_id,
        credential.private_jwk,
        base_url=server.base_url,
        allow_insecure_loopback=True,
        **hooks,
        **kwargs,
    )


# -- a forward proxy that forces faults ------------------------------------------------------------


@dataclass
class Fault:
    method: str
    path: str
    status: int
    forward: bool  # True: the server runs the call, its answer is lost
    retry_after: str | None = None
    remaining: int = 1


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    answered: int
    server_body: bytes | None


class FaultProxy:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                url = urlsplit(self.path)
                fault = proxy._take(self.command, url.path, forward=False)
                forwarded: httpx.Response | None = None
                if fault is None:
                    headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
                    with httpx.Client(timeout=30) as upstream:
                        forwarded = upstream.request(self.command, self.path, headers=headers, content=body)
                    if forwarded.is_success:  # only an answer the server gave to a call it ran is lost
                        fault = proxy._take(self.command, url.path, forward=True)
                status = fault.status if fault else forwarded.status_code  # type: ignore[union-attr]
                with proxy.lock:
                    proxy.seen.append(
                        Seen(
                            self.command,
                            url.path,
                            self.headers.get("idempotency-key"),
                            status,
                            forwarded.content if forwarded is not None else None,
                        )
                    )
                if fault is not None:
                    payload = json.dumps(
                        {"type": "about:blank", "title": "forced", "status": status, "detail": "forced"}
                    )
                    self.send_response(status)
                    self.send_header("content-type", "application/problem+json")
                    if fault.retry_after:
                        self.send_header("retry-after", fault.retry_after)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload.encode())
                    return
                assert forwarded is not None
                self.send_response(forwarded.status_code)
                for name, value in forwarded.headers.multi_items():
                    if name.lower() not in HOP_BY_HOP | {"content-length", "content-encoding"}:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(forwarded.content)))
                self.end_headers()
                self.wfile.write(forwarded.content)

            do_GET = do_POST = do_DELETE = do_PUT = _handle  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _take(self, method: str, path: str, *, forward: bool) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.remaining > 0
                    and fault.forward is forward
                    and fault.method == method
                    and path.endswith(fault.path)
                ):
                    fault.remaining -= 1
                    return fault
        return None

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.endswith(path)]


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    running = FaultProxy()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()


def consent_body() -> dict[str, Any]:
    return {
        "permissions": ["accounts:read"],
        "purpose": "Show balances in the bank app",
        "expires_at": datetime.now(UTC) + timedelta(days=30),
    }


# -- tests ------------------------------------------------------------------------------------------


def test_a_token_and_dpop_calls_with_the_nonce_retry(server: RealServer) -> None:
    recorder = Recorder()
    credential = new_app(server, Environment.PRODUCTION, Scope.MARKET_READ)
    with sdk(server, credential, recorder) as client:
        page = client.market.list_instruments(limit=2).first_page()
        assert len(page.data) == 2
        token = client.access_token()
        again = client.market.get_instrument(page.data[0].id)
    assert again.id == page.data[0].id
    assert token.count(".") == 2  # a JWT access token (RFC 9068)
    # The first proof to each server carries no nonce: each is refused once, then retried with it.
    assert recorder.trail() == [
        ("POST", "/oauth2/token", 400),
        ("POST", "/oauth2/token", 200),
        ("GET", "/v1/market/instruments", 401),
        ("GET", "/v1/market/instruments", 200),
        ("GET", f"/v1/market/instruments/{page.data[0].id}", 200),
    ]
    assert recorder.retries == []  # a nonce challenge is not a failure


def test_a_lost_answer_is_retried_with_the_same_key_and_runs_once(
    server: RealServer, proxy: FaultProxy
) -> None:
    recorder = Recorder()
    credential = new_app(server, Environment.PRODUCTION, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ)
    proxy.faults.append(Fault("POST", "/v1/consents", 503, forward=True))
    with httpx.Client(proxy=proxy.url) as http, sdk(server, credential, recorder, http_client=http) as client:
        consent = client.consents.create(**consent_body())
        listed = list(client.consents.list(status="awaiting_authorization"))
    attempts = [s for s in proxy.calls("POST", "/v1/consents") if s.answered != 401]
    assert [s.answered for s in attempts] == [503, 201]
    assert attempts[0].idempotency_key
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    lost = json.loads(attempts[0].server_body or b"{}")
    assert consent.id == lost["id"]  # the retry got the stored answer of the first run
    assert [c.id for c in listed] == [consent.id]  # and the server holds one consent
    assert [(r.reason, r.idempotency_key) for r in recorder.retries] == [("503", attempts[0].idempotency_key)]


def test_a_429_is_retried_after_retry_after_with_the_same_key(server: RealServer, proxy: FaultProxy) -> None:
    recorder = Recorder()
    credential = new_app(server, Environment.PRODUCTION, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ)
    proxy.faults.append(Fault("POST", "/v1/consents", 429, forward=False, retry_after="1"))
    with httpx.Client(proxy=proxy.url) as http, sdk(server, credential, recorder, http_client=http) as client:
        started = time.monotonic()
        consent = client.consents.create(**consent_body())
        waited = time.monotonic() - started
        listed = list(client.consents.list(status="awaiting_authorization"))
    attempts = [s for s in proxy.calls("POST", "/v1/consents") if s.answered != 401]
    assert [s.answered for s in attempts] == [429, 201]
    assert attempts[0].server_body is None  # refused before the server saw it
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    assert [(r.reason, r.delay) for r in recorder.retries] == [("429", 1.0)]
    assert waited >= 1.0
    assert [c.id for c in listed] == [consent.id]


def test_the_retry_budget_ends_in_a_typed_error(server: RealServer, proxy: FaultProxy) -> None:
    credential = new_app(server, Environment.PRODUCTION, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ)
    proxy.faults.append(Fault("POST", "/v1/consents", 503, forward=False, remaining=5))
    with httpx.Client(proxy=proxy.url) as http:
        client = sdk(server, credential, http_client=http, max_retries=1).with_options(max_retries=2)
        with pytest.raises(openplatform.errors.ServerError) as raised:
            client.consents.create(**consent_body())
    assert raised.value.status == 503
    assert len([s for s in proxy.calls("POST", "/v1/consents") if s.answered == 503]) == 3  # 1 + 2 retries


def test_pagination_across_pages_sync_and_async(server: RealServer) -> None:
    credential = new_app(server, Environment.SANDBOX, Scope.MARKET_READ)
    recorder = Recorder()
    with sdk(server, credential, recorder) as client:
        synced = [i.id for i in client.market.list_instruments(limit=3)]
        everything = [i.id for i in client.market.list_instruments(limit=100)]

    async def collect() -> list[str]:
        async with AsyncClient(
            credential.client_id, credential.private_jwk, base_url=server.base_url
        ) as client:
            return [i.id async for i in client.market.list_instruments(limit=3)]

    pages = [r for r in recorder.responses if r.url.endswith("limit=3") or "limit=3&" in r.url]
    assert len([p for p in pages if p.status == 200]) >= 3
    assert synced == asyncio.run(collect()) == everything
    assert len(set(synced)) == len(synced)


def test_a_typed_problem_carries_the_request_id(server: RealServer) -> None:
    credential = new_app(server, Environment.PRODUCTION, Scope.MARKET_READ)
    with sdk(server, credential) as client, pytest.raises(NotFoundError) as raised:
        client.market.get_instrument("ins_zzzzzzzzzz")
    error = raised.value
    assert error.status == 404
    assert error.type is not None
    assert error.type.endswith("/problems/not-found")
    assert error.request_id is not None
    assert error.request_id == error.response.headers["x-request-id"]
    assert error.request_id in str(error)


def approve_in_browser(
    server: RealServer, authorize_url: str, permissions: list[str], *, prefix: str = ""
) -> str:
    """The customer's side: sign in on the real login page, approve on the consent screen; in the
    sandbox as the published persona, in production as the demo customer `gateway seed` made."""
    environment = Environment.SANDBOX if prefix else Environment.PRODUCTION
    if environment is Environment.SANDBOX:
        persona = next(p for p in load_personas() if p.customer.username == "li.wei")
        customer = {"username": "li.wei", "password": persona.password}
    else:
        login = server.customer("li.wei")
        customer = {"username": login.username, "password": login.password}
    return approve_in_browser_as(
        server.settings, authorize_url, customer, permissions, environment=environment
    )


def test_the_delegated_flow_end_to_end_then_refresh(server: RealServer) -> None:
    credential = demo_credential(server, BANK, Environment.PRODUCTION)
    permissions = ["accounts:read", "holdings:read"]
    refreshed: list[DelegatedGrant] = []
    with sdk(server, credential) as bank:
        consent = bank.consents.create(
            permissions=permissions,
            purpose="Show your portfolio in the bank app",
            expires_at=datetime.now(UTC) + timedelta(days=90),
        )
        request = bank.oauth.authorization_request(consent_id=consent.id, redirect_uri=DEMO_REDIRECT_URI)
        assert request.url.startswith(f"{server.base_url}/oauth2/authorize?")
        callback = approve_in_browser(server, request.url, permissions)
        assert callback.startswith(DEMO_REDIRECT_URI)

        forged = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=")
        with pytest.raises(InvalidAuthorizationResponseError, match="RFC 9207"):
            bank.oauth.exchange_code(forged, request)  # a mix-up: refused before the code is spent

        grant = bank.oauth.exchange_code(callback, request)
        assert grant.refresh_token
        assert grant.token_type == "DPoP"
        customer = bank.for_customer(grant, on_refresh=refreshed.append)
        accounts = customer.customer_data.list_accounts()
        assert accounts.data
        assert all(a.number for a in accounts.data)

        renewed = bank.oauth.refresh(grant)
        assert renewed.access_token != grant.access_token
        # An expired grant is refreshed before the call, and the new grant is handed back to keep.
        expired = replace(renewed, expires_at=time.time() - 1)
        later = bank.for_customer(expired, on_refresh=refreshed.append).customer_data.list_holdings()
        assert later.data is not None
        assert len(refreshed) == 1
        assert refreshed[0].access_token != renewed.access_token
        assert bank.consents.get(consent.id).status == "authorized"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    with webhook_inbox() as receiver:
        yield receiver


def test_webhooks_verify_takes_real_deliveries_and_refuses_stale_replayed_and_forged(
    server: RealServer, inbox: tuple[Inbox, str]
) -> None:
    box, url = inbox
    credential = new_app(
        server, Environment.SANDBOX, Scope.WEBHOOKS_MANAGE, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ
    )
    with sdk(server, credential) as client:
        subscription = client.webhooks.create_subscription(url=url, event_types=["consent.*"])
        box.secret = subscription.secret  # the receiver also checks with the reference library
        consent = client.consents.create(**consent_body())
        wait_until(lambda: len(box.verified()) >= 1)
        headers, body = box.verified()[0]
        cache = InMemoryReplayCache()
        event = verify(body, headers, subscription.secret, replay_cache=cache)
        assert (event.type, event.data["consent_id"], event.id) == (
            "consent.created",
            consent.id,
            headers["webhook-id"],
        )

        refusals = {}
        attempts: dict[str, Callable[[], object]] = {
            "replayed": lambda: verify(body, headers, subscription.secret, replay_cache=cache),
            "stale": lambda: verify(
                body, headers, subscription.secret, now=lambda: datetime.now(UTC) + timedelta(minutes=6)
            ),
            "forged": lambda: verify(
                body.replace(b"consent.created", b"consent.revoked"), headers, subscription.secret
            ),
            "wrong secret": lambda: verify(body, headers, "whsec_" + "QUFB" * 8),
        }
        for name, attempt in attempts.items():
            with pytest.raises(WebhookVerificationError) as raised:
                attempt()
            refusals[name] = raised.value.reason
        assert refusals == {
            "replayed": "replayed",
            "stale": "stale_timestamp",
            "forged": "bad_signature",
            "wrong secret": "bad_signature",
        }

        # A rotation: for 24 hours deliveries carry both signatures, and either secret verifies.
        rotated = client.webhooks.rotate_secret(subscription.id)
        box.secret = rotated.secret
        client.consents.create(**consent_body())
        wait_until(lambda: len(box.verified()) >= 2)
        headers, body = box.verified()[1]
        assert len(headers["webhook-signature"].split()) == 2
        assert verify(body, headers, rotated.secret).type == "consent.created"
        assert verify(body, headers, subscription.secret).type == "consent.created"


def scripted_session_sync(client: Client) -> list[Any]:
    out: list[Any] = [[i.id for i in client.market.list_instruments(limit=7)]]
    first = client.market.get_instrument(out[0][0])
    out.append(msgspec.to_builtins(first))
    check = client.compliance.create_suitability_check(
        customer={"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "EU"},
        product={"risk": "R4", "product_type": "fund"},
    )
    out.append(_stable(msgspec.to_builtins(check)))
    try:
        client.market.get_instrument("ins_zzzzzzzzzz")
    except NotFoundError as exc:
        out.append((exc.status, exc.title, exc.detail, type(exc).__name__))
    return out


async def scripted_session_async(client: AsyncClient) -> list[Any]:
    out: list[Any] = [[i.id async for i in client.market.list_instruments(limit=7)]]
    first = await client.market.get_instrument(out[0][0])
    out.append(msgspec.to_builtins(first))
    check = await client.compliance.create_suitability_check(
        customer={"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "EU"},
        product={"risk": "R4", "product_type": "fund"},
    )
    out.append(_stable(msgspec.to_builtins(check)))
    try:
        await client.market.get_instrument("ins_zzzzzzzzzz")
    except NotFoundError as exc:
        out.append((exc.status, exc.title, exc.detail, type(exc).__name__))
    return out


def _stable(value: dict[str, Any]) -> dict[str, Any]:
    """A server-made object without what differs between two runs (its id and its time)."""
    return {k: v for k, v in value.items() if k not in ("id", "created_at")}


def test_sync_and_async_clients_give_identical_results(server: RealServer) -> None:
    credential = new_app(server, Environment.SANDBOX, Scope.MARKET_READ, Scope.COMPLIANCE_SUITABILITY)
    sync_trail, async_trail = Recorder(), Recorder()
    with sdk(server, credential, sync_trail) as client:
        synced = scripted_session_sync(client)

    async def run() -> list[Any]:
        async with AsyncClient(
            credential.client_id, credential.private_jwk, base_url=server.base_url, **async_trail.kwargs()
        ) as client:
            return await scripted_session_async(client)

    assert synced == asyncio.run(run())
    assert sync_trail.trail() == async_trail.trail()
    assert len(synced[0]) > 7  # more than one page


EXAMPLES = Path(__file__).resolve().parents[2] / "sdk" / "examples"


def run_example(server: RealServer, name: str, permissions: list[str] | None = None, prefix: str = "") -> str:
    """Run `sdk/examples/{name}.py` as a partner would; approve in the browser when it asks."""
    env = {**os.environ, "GATEWAY_BASE_URL": server.base_url, "GATEWAY_VAR_DIR": str(server.settings.var_dir)}
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        try:
            for line in process.stdout:
                lines.append(line)
                if line.startswith("Send the ") and permissions is not None:
                    url = line.split(": ", 1)[1].strip()
                    process.stdin.write(approve_in_browser(server, url, permissions, prefix=prefix) + "\n")
                    process.stdin.flush()
            assert process.wait(timeout=60) == 0, "".join(lines)
        finally:
            process.kill()
    return "".join(lines)


def test_the_developer_example_runs(server: RealServer) -> None:
    output = run_example(server, "developer")
    assert output.startswith("sandbox at ")
    assert "404 Not found req_" in output


def test_the_bank_example_runs(server: RealServer) -> None:
    output = run_example(server, "bank", ["accounts:read", "orders:read", "orders:write"])
    assert "suitability: " in output
    assert "order: ord_" in output


def test_the_shop_example_runs(server: RealServer) -> None:
    output = run_example(server, "shop", ["points:convert"], prefix="/sandbox")
    assert "conversion: cnv_" in output
    assert "webhook: " in output
