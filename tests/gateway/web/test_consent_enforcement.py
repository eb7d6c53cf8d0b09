"""Consent checks on every delegated call, across workers: a revocation in one worker is refused
by another on the very next call (the shared consent epoch in Redis)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.services import Platform
from gateway.storage.database import Database
from gateway.storage.tables.outbox import OutboxRow
from tests.delegation import Browser, authorize, delegating_app, seed_customer


@pytest.mark.redis
def test_a_revocation_in_one_worker_is_refused_by_the_other_on_the_next_call(
    two_workers: tuple[TestClient[Any], TestClient[Any]],
) -> None:
    first, second = two_workers
    platform: Platform = first.app.state.platform
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(first, bank, customer, ["accounts:read"])
    for _ in range(3):  # the second worker now holds the consent in its cache
        assert bank.call(second, "GET", "/v1/accounts", grant.access_token).status_code == 200

    browser = Browser(first, "")
    browser.sign_in(customer.username)
    token = browser.get("/customer/session").json()["csrf_token"]
    revoked = browser.post(f"/customer/consents/{grant.consent_id}/revoke", headers={"X-CSRF-Token": token})
    assert revoked.status_code == 200

    refused = bank.call(second, "GET", "/v1/accounts", grant.access_token)
    assert refused.status_code == 401
    assert "revoked" in refused.headers["www-authenticate"]
    assert bank.refresh(second, grant.refresh_token).json()["error"] == "invalid_grant"


def test_a_partner_revocation_kills_the_delegated_tokens(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(client, bank, customer, ["accounts:read"])
    revoked = bank.call(client, "POST", f"/v1/consents/{grant.consent_id}/revoke", bank.client_token(client))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_by"] == "partner"
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 401
    assert bank.refresh(client, grant.refresh_token).json()["error"] == "invalid_grant"


def test_a_delegated_token_cannot_manage_consents_or_call_partner_apis(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(client, bank, customer, ["accounts:read"])
    for method, path in (("GET", "/v1/consents"), ("GET", "/v1/market/instruments")):
        response = bank.call(client, method, path, grant.access_token)
        assert response.status_code == 403, (path, response.text)


def test_an_expired_consent_is_refused_before_any_sweep(client: TestClient[Any], platform: Platform) -> None:
    clock: Any = platform.clock
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(
        client, bank, customer, ["accounts:read"], expires_at=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 200
    clock.advance(timedelta(minutes=5))
    refused = bank.call(client, "GET", "/v1/accounts", grant.access_token)
    assert refused.status_code == 401
    assert "expired" in refused.headers["www-authenticate"]


def test_the_sweep_records_expired_in_the_ledger_once_and_kills_the_refresh_token(
    client: TestClient[Any], platform: Platform
) -> None:
    clock: Any = platform.clock
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(
        client, bank, customer, ["accounts:read"], expires_at=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    consents = platform.environments[Environment.PRODUCTION].consents
    consents.expire_lapsed()
    assert consents.get(grant.consent_id, partner_id=bank.app.partner_id).status == "authorized"
    clock.advance(timedelta(minutes=5))
    assert consents.expire_lapsed() >= 1
    assert consents.get(grant.consent_id, partner_id=bank.app.partner_id).status == "expired"
    kinds = [str(event.kind) for event in consents.repository.events(grant.consent_id)]
    assert kinds[-1] == "expired"
    assert kinds.count("expired") == 1
    consents.expire_lapsed()  # a second sweep finds nothing more to record
    assert [str(e.kind) for e in consents.repository.events(grant.consent_id)].count("expired") == 1
    assert bank.refresh(client, grant.refresh_token).json()["error"] == "invalid_grant"


def test_a_revocation_emits_one_consent_revoked_event_and_is_audited(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(client, bank, customer, ["accounts:read"])
    revoked = bank.call(
        client,
        "POST",
        f"/v1/consents/{grant.consent_id}/revoke",
        bank.client_token(client),
        headers={"X-Request-Id": f"revoke-{grant.consent_id}"},
    )
    assert revoked.status_code == 200
    again = bank.call(client, "POST", f"/v1/consents/{grant.consent_id}/revoke", bank.client_token(client))
    assert again.status_code == 409  # revoked once: no second event
    services = platform.environments[Environment.PRODUCTION]
    assert isinstance(services.database, Database)  # the app's own SQL database
    outbox = OutboxRow.__table__
    with services.database.read() as conn:
        types = [
            row.type for row in conn.execute(outbox.select().where(outbox.c.subject_id == grant.consent_id))
        ]
    assert sorted(types) == ["consent.authorized", "consent.created", "consent.revoked"]
    # The audit entry is added after the response has left (off the critical path): wait for it, bounded.
    deadline = time.monotonic() + 5
    while True:
        audited = [r for r in services.audit.records() if r.entry.request_id == f"revoke-{grant.consent_id}"]
        if audited or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(audited) == 1
    assert audited[0].entry.outcome == 200
