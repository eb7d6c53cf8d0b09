"""The staff page of a partner in review shows its conformance evidence check by check; an officer
moves it into pilot only on passing evidence or with an override reason, kept as an override."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from litestar.testing import TestClient

from gateway.apis.admin.lifecycle import OVERRIDE_ACTION
from gateway.domain.environment import Environment
from gateway.services import Platform
from partners.models import PartnerStage
from tests.gateway.apis.v1.test_graduation import developer_in_sandbox
from tests.gateway.web.test_partner_review import (  # the officers fixture signs staff in
    OFFICER,
    PARTNERS,
    REGULATOR,
    officers,  # noqa: F401
    partner_in,
    post_form,
    signed_in,
)
from tests.support import wait_until

OVERRIDE = "the bank's own certification covers the missing checks"


def row(page: str, check: str) -> str:
    found = re.search(rf'<tr data-testid="check-{check}"[^>]*>', page)
    assert found, f"no row for {check}"
    return found.group(0)


def test_the_page_shows_each_check_of_the_pack(client: TestClient[Any], platform: Platform) -> None:
    app = developer_in_sandbox(platform)
    review = app.sdk(client).partner.request_review(reason="ready for review")
    assert review.evidence is not None

    page = signed_in(client).get(f"{PARTNERS}/{app.partner_id}").text

    assert 'data-testid="evidence-verdict" data-passed="false"' in page
    assert review.evidence.id in page
    assert "verified against the sandbox" in page
    for check in review.evidence.score.checks:
        line = row(page, check.id)
        assert f'data-passed="{str(check.passed).lower()}"' in line
        assert f'data-required="{str(check.required).lower()}"' in line
        assert unescape(check.title) in unescape(page)
    assert 'data-required="true"' in row(page, "retry_after")
    assert 'data-passed="false"' in row(page, "retry_after")
    assert review.evidence.pack not in page  # the pack is shown check by check, not as a blob
    assert 'data-testid="override-reason"' in page


def test_a_partner_without_evidence_says_so(client: TestClient[Any], platform: Platform) -> None:
    partner = partner_in(platform, PartnerStage.REVIEW)
    page = signed_in(client, REGULATOR).get(f"{PARTNERS}/{partner.id}").text
    assert 'data-testid="no-evidence"' in page
    assert 'data-testid="checks"' not in page


def test_an_officer_overrides_failing_evidence_with_a_reason(
    client: TestClient[Any], platform: Platform
) -> None:
    app = developer_in_sandbox(platform)
    app.sdk(client).partner.request_review(reason="ready for review")
    browser = signed_in(client)
    caps = post_form(
        browser,
        app.partner_id,
        "pilot-caps",
        customers="10",
        daily_notional="1000",
        currency="CNY",
        daily_points="0",
        reason="pilot terms",
    )
    assert caps.status_code == 303, caps.text

    refused = post_form(browser, app.partner_id, "stage", stage="pilot", reason="looks good")
    short = post_form(
        browser, app.partner_id, "stage", stage="pilot", reason="looks good", override_reason="ok"
    )

    assert refused.status_code == 409
    assert "override reason" in unescape(refused.text)
    assert short.status_code == 422
    assert platform.registry.partner(app.partner_id).stage is PartnerStage.REVIEW

    moved = post_form(
        browser, app.partner_id, "stage", stage="pilot", reason="looks good", override_reason=OVERRIDE
    )

    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"{PARTNERS}/{app.partner_id}?notice=override"
    event = platform.registry.lifecycle.history(app.partner_id)[-1]
    assert (event.actor, event.to_stage) == (f"officer:{OFFICER}", PartnerStage.PILOT)
    assert event.details["override_reason"] == OVERRIDE
    shown = browser.get(moved.headers["location"]).text
    assert 'data-override="true"' in shown
    log = platform.environments[Environment.PRODUCTION].audit.log
    found: list[Any] = []

    def recorded() -> bool:
        found[:] = [
            r.entry
            for r in log.records()
            if r.entry.action == OVERRIDE_ACTION and r.entry.resource == f"partners/{app.partner_id}"
        ]
        return bool(found)

    wait_until(recorded, timeout=10)
    assert found[0].actor == f"officer:{OFFICER}"
    assert found[0].details["override_reason"] == OVERRIDE
