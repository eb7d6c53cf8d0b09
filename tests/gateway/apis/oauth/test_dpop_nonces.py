"""Server-provided DPoP nonces (RFC 9449 §8, §9), when the deployment requires them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.auth.dpop_nonces import WINDOW_SECONDS, DPoPNonces
from gateway.settings import Settings
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL
from tests.support import PLAIN, Holder, PartnerApp, register_app

INSTRUMENTS = "/v1/market/instruments"


@pytest.fixture
def nonce_client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient[Any]]:
    application = create_app(settings.with_changes(dpop_nonce_required=True), clock=clock)
    try:
        with TestClient(app=application, base_url=BASE_URL) as client:
            yield client
    finally:
        for services in application.state.platform.environments.values():
            services.database.dispose()


def _token_request(client: TestClient[Any], app: PartnerApp, holder: Holder, nonce: str | None) -> Any:
    claims: dict[str, Any] = {"nonce": nonce} if nonce else {}
    proof = holder.proof("POST", app.token_endpoint, **claims)
    return client.post("/oauth2/token", data=app.token_form(), headers={"DPoP": proof, PLAIN: "1"})


def test_the_token_endpoint_hands_out_a_nonce_and_then_accepts_it(
    nonce_client: TestClient[Any], clock: FrozenClock
) -> None:
    bank = register_app(nonce_client.app.state.platform)
    holder = Holder(clock)

    first = _token_request(nonce_client, bank, holder, None)
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    second = _token_request(nonce_client, bank, holder, nonce)
    assert second.status_code == 200, second.text
    assert second.headers["dpop-nonce"] == nonce
    assert _token_request(nonce_client, bank, holder, "made-up").json()["error"] == "use_dpop_nonce"


def test_a_resource_asks_for_the_nonce_and_accepts_it_for_two_windows(
    nonce_client: TestClient[Any], clock: FrozenClock
) -> None:
    bank = register_app(nonce_client.app.state.platform)
    holder = Holder(clock)
    nonce = _token_request(nonce_client, bank, holder, None).headers["dpop-nonce"]
    token = _token_request(nonce_client, bank, holder, nonce).json()["access_token"]
    url = f"{BASE_URL}{INSTRUMENTS}"

    def call(with_nonce: str | None) -> Any:
        claims: dict[str, Any] = {"nonce": with_nonce} if with_nonce else {}
        headers = {"Authorization": f"DPoP {token}", "DPoP": holder.proof("GET", url, token=token, **claims)}
        return nonce_client.get(INSTRUMENTS, headers=headers)

    refused = call(None)
    assert refused.status_code == 401
    assert 'DPoP error="use_dpop_nonce"' in refused.headers["www-authenticate"]
    assert refused.headers["dpop-nonce"] == nonce
    assert call(nonce).status_code == 200
    now = int(clock.now().timestamp())
    clock.advance(timedelta(seconds=WINDOW_SECONDS - now % WINDOW_SECONDS + 1))  # the next window
    assert call(nonce).status_code == 200  # the previous window's nonce still works
    assert call(None).headers["dpop-nonce"] != nonce  # and a new one is handed out


def test_a_nonce_lives_two_windows_and_every_worker_agrees(clock: FrozenClock) -> None:
    first, second = DPoPNonces(b"k" * 32, clock), DPoPNonces(b"k" * 32, clock)
    nonce = first.current()
    assert nonce in second.accepted()
    clock.advance(timedelta(seconds=WINDOW_SECONDS))
    assert nonce in first.accepted()
    clock.advance(timedelta(seconds=WINDOW_SECONDS))
    assert nonce not in first.accepted()
    assert DPoPNonces(b"o" * 32, clock).current() != first.current()


def test_without_the_setting_no_nonce_is_needed_or_sent(client: TestClient[Any], platform: Any) -> None:
    bank = register_app(platform)
    response = client.post("/oauth2/token", data=bank.token_form())
    assert response.status_code == 200
    assert "dpop-nonce" not in response.headers
