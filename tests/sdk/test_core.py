"""The SDK's core without a server: environments, error mapping, retries, redaction and deprecation.

A scripted `httpx.MockTransport` plays the gateway, so each rule is pinned on exactly the answer
that triggers it.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from openplatform import AsyncClient, Client, DPoPKey, Environment, RequestInfo, ResponseInfo, RetryInfo
from openplatform._core.retries import RetryPolicy, retry_after_seconds
from openplatform.errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    ConflictError,
    LimitExceededError,
    RequestValidationError,
    ResponseValidationError,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
)

BASE = "https://api.example"
TOKEN = {"access_token": "at-secret-value", "token_type": "DPoP", "expires_in": 600, "scope": "market:read"}
INSTRUMENT = {
    "id": "ins_aaaaaaaaaa",
    "object": "instrument",
    "symbol": "AAA",
    "name": "A",
    "market": "CN",
    "type": "stock",
    "currency": "CNY",
    "risk": "R3",
    "lot_size": 100,
    "complex_product": False,
    "shariah_compliant": False,
    "esg_score": 50,
    "reference_price": "1.00",
    "fund": None,
}


def key() -> dict[str, Any]:
    return dict(ECKey.generate_key("P-256", private=True, parameters={"kid": "k1"}).as_dict(private=True))


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, client_id: str = "live_abc", **kwargs: Any) -> Client:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    http = httpx.Client(transport=httpx.MockTransport(route))
    kwargs.setdefault("max_retries", 2)
    sdk = Client(client_id, key(), base_url=BASE, http_client=http, **kwargs)
    sdk._engine.options = sdk._engine.options.__class__(  # no real sleeping in these tests
        timeout=sdk._engine.options.timeout, retry=RetryPolicy(kwargs["max_retries"], 0.0, 0.0)
    )
    return sdk


def problem(status: int, slug: str, **extra: Any) -> httpx.Response:
    body = {"type": f"{BASE}/problems/{slug}", "title": slug, "status": status, "detail": f"{slug}!", **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


# -- environments -----------------------------------------------------------------------------------


def test_a_sandbox_credential_only_ever_calls_the_sandbox() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=INSTRUMENT)

    sdk = client(handler, client_id="sbx_abc")
    sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert sdk.environment is Environment.SANDBOX
    assert seen == [f"{BASE}/sandbox/v1/market/instruments/ins_aaaaaaaaaa"]
    assert sdk.issuer == f"{BASE}/sandbox"
    with pytest.raises(ConfigurationError, match="adds /sandbox itself"):
        Client("live_abc", key(), base_url=f"{BASE}/sandbox")


@pytest.mark.parametrize(
    ("client_id", "base_url", "kwargs", "message"),
    [
        ("live_abc", "http://api.example", {}, "plain http is refused"),
        ("live_abc", "http://127.0.0.1:8000", {}, "production client refuses plain http"),
        ("sbx_abc", "http://api.example", {}, "plain http is refused"),
        ("live_abc", BASE, {"use_dpop": False}, "always uses DPoP"),
        ("abc", BASE, {}, "starts with live_ or sbx_"),
    ],
)
def test_unsafe_configurations_are_refused(
    client_id: str, base_url: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Client(client_id, key(), base_url=base_url, **kwargs)


def test_loopback_http_is_allowed_for_the_sandbox_and_on_request_for_production() -> None:
    assert (
        Client("sbx_abc", key(), base_url="http://127.0.0.1:8000").issuer == "http://127.0.0.1:8000/sandbox"
    )
    local = Client("live_abc", key(), base_url="http://localhost:8000", allow_insecure_loopback=True)
    assert local.issuer == "http://localhost:8000"


# -- errors -----------------------------------------------------------------------------------------


def test_a_problem_becomes_its_typed_exception_with_every_member() -> None:
    sdk = client(
        lambda r: problem(
            403,
            "limit-exceeded",
            request_id="req_1",
            context={"limit": "order_placement.max_notional_per_order"},
        ),
        max_retries=0,
    )
    with pytest.raises(LimitExceededError) as raised:
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    error = raised.value
    assert isinstance(error, APIError)
    assert (error.status, error.title, error.detail, error.request_id) == (
        403,
        "limit-exceeded",
        "limit-exceeded!",
        "req_1",
    )
    assert error.rule == "order_placement.max_notional_per_order"
    assert "req_1" in str(error)


def test_validation_errors_name_the_field() -> None:
    errors = [{"field": "customer.risk_level", "message": "Expected one of C1..C5", "source": "body"}]
    sdk = client(lambda r: problem(422, "validation-failed", errors=errors), max_retries=0)
    with pytest.raises(APIError) as raised:
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert raised.value.field == "customer.risk_level"
    assert type(raised.value).__name__ == "ValidationFailedError"


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError, "non-JSON answer"),
        (httpx.Response(418, json={"nope": 1}), APIError, "418"),
        (httpx.Response(409, json={"title": "x"}), ConflictError, "409"),
        (httpx.Response(500, content=b""), ServerError, "empty answer"),
    ],
)
def test_any_error_answer_is_a_clear_exception(
    response: httpx.Response, kind: type[APIError], text: str
) -> None:
    sdk = client(lambda r: response, max_retries=0)
    with pytest.raises(kind, match=text) as raised:
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert raised.value.body == response.content


def test_a_body_that_breaks_the_schema_is_refused_before_sending() -> None:
    sent: list[httpx.Request] = []
    sdk = client(lambda r: sent.append(r) or httpx.Response(201, json={}))  # type: ignore[func-returns-value]
    with pytest.raises(RequestValidationError) as raised:
        sdk.orders.place(
            client_order_id="x y", instrument_id="ins_aaaaaaaaaa", side="buy", order_type="market"
        )
    assert raised.value.field == "client_order_id"
    assert sent == []


# -- retries ----------------------------------------------------------------------------------------


def scripted(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return handler, seen


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried_with_one_idempotency_key(status: int) -> None:
    handler, seen = scripted(
        problem(status, "unavailable"), httpx.Response(201, json={"id": "scr_1"} | SCREENING)
    )
    retries: list[RetryInfo] = []
    sdk = client(handler, on_retry=retries.append)
    assert sdk.compliance.create_screening(name="A").id == "scr_1"
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 2
    assert len(keys) == 1
    assert [(r.reason, r.idempotency_key) for r in retries] == [(str(status), keys.pop())]


def test_a_409_is_retried_only_while_the_same_key_is_running() -> None:
    handler, seen = scripted(problem(409, "idempotency-in-progress"), httpx.Response(201, json=SCREENING))
    assert client(handler).compliance.create_screening(name="A").id == SCREENING["id"]
    assert len(seen) == 2
    handler, seen = scripted(problem(409, "conflict"), httpx.Response(201, json=SCREENING))
    with pytest.raises(ConflictError):
        client(handler).compliance.create_screening(name="A")
    assert len(seen) == 1  # a state conflict answers the same every time


def test_retry_after_is_honoured_and_a_long_one_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("openplatform.client.time.sleep", slept.append)
    handler, seen = scripted(
        httpx.Response(429, headers={"retry-after": "3"}, json={}), httpx.Response(201, json=SCREENING)
    )
    retries: list[RetryInfo] = []
    client(handler, on_retry=retries.append).compliance.create_screening(name="A")
    assert [r.delay for r in retries] == [3.0]
    assert slept == [3.0]
    handler, seen = scripted(httpx.Response(429, headers={"retry-after": "3600"}, json={}))
    with pytest.raises(TooManyRequestsError) as raised:
        client(handler).compliance.create_screening(name="A")
    assert raised.value.retry_after == 3600.0
    assert len(seen) == 1


def test_connection_errors_are_retried_then_raised() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(APIConnectionError):
        client(handler, max_retries=3).market.get_instrument("ins_aaaaaaaaaa")
    assert len(calls) == 4


def test_the_backoff_grows_with_jitter_and_stays_bounded() -> None:
    import random

    policy = RetryPolicy(max_retries=5, initial_delay=0.5, max_delay=8.0)
    rng = random.Random(7)
    delays = [policy.delay(n, None, rng) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert retry_after_seconds("7") == 7.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= (retry_after_seconds(format_datetime(later, usegmt=True)) or 0) <= 30
    assert retry_after_seconds("soon") is None


# -- DPoP, tokens and redaction -------------------------------------------------------------------


def test_every_call_carries_a_fresh_proof_and_the_nonce_challenge_is_answered() -> None:
    answers = [
        httpx.Response(401, headers={"www-authenticate": 'DPoP error="use_dpop_nonce"', "dpop-nonce": "n-1"}),
        httpx.Response(200, json=INSTRUMENT),
        httpx.Response(200, json=INSTRUMENT),
    ]
    handler, seen = scripted(*answers)
    sdk = client(handler)
    sdk.market.get_instrument("ins_aaaaaaaaaa")
    sdk.market.get_instrument("ins_aaaaaaaaaa")
    proofs = [jwt.decode(r.headers["dpop"], sdk.dpop_key.key).claims for r in seen]  # type: ignore[union-attr]
    assert [p.get("nonce") for p in proofs] == [None, "n-1", "n-1"]
    assert len({p["jti"] for p in proofs}) == 3
    assert all(p["htu"] == f"{BASE}/v1/market/instruments/ins_aaaaaaaaaa" for p in proofs)
    assert all(r.headers["authorization"] == "DPoP at-secret-value" for r in seen)


def test_hooks_never_see_a_secret() -> None:
    infos: list[RequestInfo | ResponseInfo] = []
    sdk = client(
        lambda r: httpx.Response(200, json=INSTRUMENT), on_request=infos.append, on_response=infos.append
    )
    sdk.market.get_instrument("ins_aaaaaaaaaa")
    text = json.dumps([info.headers for info in infos]) + json.dumps([info.url for info in infos])
    assert "at-secret-value" not in text
    assert "eyJ" not in text
    assert any(info.headers.get("authorization") == "DPoP [redacted]" for info in infos)


def test_a_given_dpop_key_is_used_and_exportable() -> None:
    dpop = DPoPKey(None, clock=lambda: 0.0)
    sdk = Client("live_abc", key(), base_url=BASE, dpop_key=dpop.export())
    assert sdk.dpop_key is not None
    assert sdk.dpop_key.thumbprint == dpop.thumbprint


# -- deprecation ------------------------------------------------------------------------------------


def test_a_deprecated_answer_warns_once_with_its_sunset() -> None:
    sunset = "Wed, 30 Jun 2027 00:00:00 GMT"
    headers = {"deprecation": "@1767225600", "sunset": sunset}
    sdk = client(lambda r: httpx.Response(200, json=INSTRUMENT, headers=headers))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sdk.market.get_instrument("ins_aaaaaaaaaa")
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1
    assert sunset in str(deprecations[0].message)
    assert "getInstrument" in str(deprecations[0].message)


# -- async ------------------------------------------------------------------------------------------


def test_the_async_client_retries_the_same_way() -> None:
    handler, seen = scripted(problem(503, "unavailable"), httpx.Response(201, json=SCREENING))

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    async def run() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(route)) as http:
            sdk = AsyncClient("live_abc", key(), base_url=BASE, http_client=http)
            sdk._engine.options = sdk._engine.options.__class__(
                timeout=sdk._engine.options.timeout, retry=RetryPolicy(2, 0.0, 0.0)
            )
            return (await sdk.compliance.create_screening(name="A")).id

    assert asyncio.run(run()) == SCREENING["id"]
    assert len({r.headers["idempotency-key"] for r in seen}) == 1
    assert len(seen) == 2


SCREENING: dict[str, Any] = {
    "id": "scr_1",
    "object": "screening",
    "created_at": "2026-12-07T00:00:00Z",
    "decision": "clear",
    "hits": [],
    "list_version": "v1",
    "reference": None,
    "subject": {"name": "A", "birth_date": None, "country": None},
    "thresholds": {"review": 0.82, "block": 0.95},
}


def test_a_client_from_the_credentials_file(tmp_path: Any) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"client_id": "sbx_abc", "private_jwk": key()}))
    sync = Client.from_file(path, base_url=BASE)
    assert (sync.client_id, sync.environment) == ("sbx_abc", Environment.SANDBOX)
    assert isinstance(AsyncClient.from_file(path, base_url=BASE), AsyncClient)


def test_the_token_is_renewed_before_it_expires() -> None:
    now = [1_000_000.0]
    issued: list[float] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            issued.append(now[0])
            return httpx.Response(200, json=TOKEN | {"access_token": f"at-{len(issued)}", "expires_in": 600})
        return httpx.Response(200, json=INSTRUMENT)

    http = httpx.Client(transport=httpx.MockTransport(route))
    sdk = Client("live_abc", key(), base_url=BASE, http_client=http, clock=lambda: now[0])
    for step in (0, 300, 239):  # 539 s in: 61 s left, more than the 60 s margin
        now[0] += step
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert len(issued) == 1
    now[0] += 1  # 60 s left: renewed before the call, not after a 401
    sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert issued == [1_000_000.0, 1_000_540.0]
    assert sdk.access_token() == "at-2"


def test_a_token_refused_as_invalid_is_replaced_once() -> None:
    tokens: list[int] = []
    answers = [
        httpx.Response(401, headers={"www-authenticate": 'DPoP error="invalid_token"'}),
        httpx.Response(200, json=INSTRUMENT),
        httpx.Response(401, headers={"www-authenticate": 'DPoP error="invalid_token"'}),
        httpx.Response(401, headers={"www-authenticate": 'DPoP error="invalid_token"'}),
    ]

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            tokens.append(1)
            return httpx.Response(200, json=TOKEN)
        return answers.pop(0)

    sdk = Client(
        "live_abc", key(), base_url=BASE, http_client=httpx.Client(transport=httpx.MockTransport(route))
    )
    assert sdk.market.get_instrument("ins_aaaaaaaaaa").id == INSTRUMENT["id"]  # a revoked token: a new one
    assert len(tokens) == 2
    with pytest.raises(UnauthorizedError):  # refused again with a new token: no loop
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert len(tokens) == 3


def test_an_answer_this_sdk_cannot_read_is_a_clear_error() -> None:
    sdk = client(lambda r: httpx.Response(200, json={"id": 5}))
    with pytest.raises(ResponseValidationError, match="getInstrument: the answer does not match") as raised:
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert raised.value.body == b'{"id":5}'


def test_per_call_options_keep_the_rest_of_the_policy() -> None:
    sdk = Client("live_abc", key(), base_url=BASE, max_retries=5, timeout=12.0)
    view = sdk.with_options(max_retries=1)
    assert view._engine.options.retry == RetryPolicy(max_retries=1)
    assert view._engine.options.timeout == sdk._engine.options.timeout
    assert sdk._engine.options.retry.max_retries == 5  # the client itself is unchanged


def test_the_debug_log_is_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    sdk = client(lambda r: httpx.Response(200, json=INSTRUMENT))
    with caplog.at_level("DEBUG", logger="openplatform"):
        sdk.market.get_instrument("ins_aaaaaaaaaa")
    assert "request GET" in caplog.text
    assert "at-secret-value" not in caplog.text
    assert "eyJ" not in caplog.text
