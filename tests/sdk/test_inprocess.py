"""The SDK against the app in-process: `PartnerApp.sdk` puts an SDK `Client` on the test client,
so each call runs the SDK's signing, paging and error mapping against the real routes (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from openplatform import RequestInfo, ResponseInfo
from openplatform.errors import NotFoundError, RequestValidationError

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from tests.support import DPOP_HOLDERS, SIGNED_PROOFS, PartnerApp, register_app, segment

INSTRUMENTS = "/v1/market/instruments"
MISSING_INSTRUMENT = "ins_0000000000"


def raw_listing(client: TestClient[Any], app: PartnerApp) -> list[str]:
    """Every instrument id, read page by page with plain requests (the test client's own signing)."""
    headers = app.headers(client, Scope.MARKET_READ.value)
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = client.get(f"{app.prefix}{INSTRUMENTS}", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return ids
        params["cursor"] = page["next_cursor"]


@pytest.mark.parametrize("environment", [Environment.PRODUCTION, Environment.SANDBOX])
def test_the_sdk_lists_instruments_across_pages(
    client: TestClient[Any], platform: Platform, environment: Environment
) -> None:
    app = register_app(platform, environment=environment)
    sdk = app.sdk(client)
    pages = list(sdk.market.list_instruments(limit=3).pages())
    assert len(pages) >= 3
    assert all(len(page.data) == 3 for page in pages[:-1])
    assert [i.id for page in pages for i in page.data] == raw_listing(client, app)
    assert [i.id for i in sdk.market.list_instruments(limit=3)] == raw_listing(client, app)


def test_a_missing_instrument_is_a_not_found_error_with_the_request_id(
    client: TestClient[Any], platform: Platform
) -> None:
    responses: list[ResponseInfo] = []
    sdk = register_app(platform).sdk(client, on_response=responses.append)
    with pytest.raises(NotFoundError) as raised:
        sdk.market.get_instrument(MISSING_INSTRUMENT)
    error = raised.value
    assert error.status == 404
    assert error.request_id is not None
    assert error.request_id == error.response.headers["x-request-id"] == responses[-1].request_id


def test_a_body_breaking_the_schema_is_refused_before_anything_is_sent(
    client: TestClient[Any], platform: Platform
) -> None:
    sent: list[RequestInfo] = []
    reached: list[httpx.Request] = []
    client.event_hooks["request"].append(reached.append)
    sdk = register_app(platform).sdk(client, on_request=sent.append)
    with pytest.raises(RequestValidationError) as raised:
        sdk.consents.create(
            permissions=["Accounts Read"],  # breaks ^[a-z][a-z:\-]{0,63}$
            purpose="Show the portfolio",
            expires_at=datetime.now(UTC) + timedelta(days=30),
        )
    assert raised.value.field == "permissions.0"
    assert sent == []
    assert reached == []


def test_raw_responses_expose_the_rate_limit_headers(client: TestClient[Any], platform: Platform) -> None:
    instrument = raw_listing(client, register_app(platform))[0]
    sdk = register_app(platform).sdk(client)
    answer = sdk.market.with_raw_response.get_instrument(instrument)
    assert answer.status_code == 200
    assert answer.parsed.id == instrument
    assert int(answer.headers["ratelimit-limit"]) > 0
    assert 0 <= int(answer.headers["ratelimit-remaining"]) < int(answer.headers["ratelimit-limit"])
    assert int(answer.headers["ratelimit-reset"]) >= 1
    assert answer.request_id == answer.headers["x-request-id"]


def test_with_options_scopes_ask_for_a_token_of_only_those_scopes(
    client: TestClient[Any], platform: Platform
) -> None:
    app = register_app(platform)
    sdk = app.sdk(client)
    narrow = sdk.with_options(scopes=[Scope.MARKET_READ.value])
    assert segment(narrow.access_token(), 1)["scope"] == Scope.MARKET_READ.value
    assert set(segment(sdk.access_token(), 1)["scope"].split()) == set(app.scopes)


def test_sdk_tokens_are_bound_to_the_apps_key_and_signed_once(
    client: TestClient[Any], platform: Platform
) -> None:
    """The test client's own signing leaves SDK requests alone: one proof, the SDK's."""
    token_requests: list[httpx.Request] = []

    def watch(request: httpx.Request) -> None:
        if request.url.path.endswith("/oauth2/token"):
            token_requests.append(request)

    client.event_hooks["request"].append(watch)
    app = register_app(platform)
    token = app.sdk(client).access_token()
    (request,) = token_requests
    (proof,) = request.headers.get_list("dpop")
    assert proof not in SIGNED_PROOFS
    assert segment(token, 1)["cnf"] == {"jkt": app.holder.jkt}
    assert token not in DPOP_HOLDERS  # only tokens the test client asked for are signed for by it


def test_hooks_never_see_a_token_a_proof_or_an_assertion(client: TestClient[Any], platform: Platform) -> None:
    seen: list[RequestInfo | ResponseInfo] = []
    sdk = register_app(platform).sdk(client, on_request=seen.append, on_response=seen.append)
    instrument = next(iter(sdk.market.list_instruments(limit=2)))
    sdk.market.get_instrument(instrument.id)
    with pytest.raises(NotFoundError):
        sdk.market.get_instrument(MISSING_INSTRUMENT)
    token = sdk.access_token()
    assert {info.url.rsplit("/", 1)[-1] for info in seen if isinstance(info, RequestInfo)} >= {"token"}
    assert len(seen) >= 8  # a request and a response each: the token, the list and two reads
    for info in seen:
        for value in [info.url, *info.headers.values()]:
            assert token not in value
            assert "eyJ" not in value
        assert info.headers.get("authorization", "DPoP [redacted]") == "DPoP [redacted]"
