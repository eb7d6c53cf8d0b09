"""Advisory over HTTP: the questionnaire, scoring, customer proposals under consent, white-label
proposals for a partner's own clients, and who may read which proposal (no BOLA)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from tests.conftest import BASE_URL
from tests.delegation import DelegatingApp, Grant, authorize, delegating_app, seed_customer
from tests.support import PartnerApp, register_app

QUESTIONNAIRE = "/v1/advisory/questionnaire"
ASSESSMENTS = "/v1/advisory/risk-assessments"
PROPOSALS = "/v1/advisory/proposals"
WHITE_LABEL = "/v1/advisory/white-label/proposals"
ADVISING_BANK = (Scope.CONSENTS_MANAGE, Scope.ADVISORY_READ)

# A worked example, by hand from the published points: 8+3+3+3+4+6+3+5+3+1 = 39, in the C4 band 37-48.
ANSWERS = {
    "horizon": "5_10y",
    "age_band": "35_49",
    "income_stability": "stable",
    "assets_share": "10_25",
    "loss_tolerance": "5_to_15",
    "drop_reaction": "hold",
    "experience": "equity",
    "objective": "balanced",
    "liquidity_needs": "some",
    "derivatives_knowledge": "basic",
}
POINTS = {
    "horizon": 8,
    "age_band": 3,
    "income_stability": 3,
    "assets_share": 3,
    "loss_tolerance": 4,
    "drop_reaction": 6,
    "experience": 3,
    "objective": 5,
    "liquidity_needs": 3,
    "derivatives_knowledge": 1,
}


def answers(**changes: str) -> list[dict[str, str]]:
    return [{"question_id": q, "option_id": o} for q, o in {**ANSWERS, **changes}.items()]


def white_label_app(platform: Platform) -> PartnerApp:
    return register_app(platform, scopes=(Scope.ADVISORY_WHITE_LABEL,))


def problem_of(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/{slug}"
    return problem


def delegated(
    client: TestClient[Any], platform: Platform, persona: str, *, region: str = "CN"
) -> tuple[DelegatingApp, Grant, str]:
    customer = seed_customer(platform, Environment.PRODUCTION, persona)
    bank = delegating_app(platform, scopes=ADVISING_BANK, region=region)
    grant = authorize(client, bank, customer, [Scope.ADVISORY_READ.value])
    return bank, grant, customer.id


# ---- the questionnaire and scoring ---------------------------------------------------------------


def test_the_questionnaire_is_published_with_its_points_bands_and_knockouts(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = white_label_app(platform)
    response = client.get(QUESTIONNAIRE, headers=partner.headers(client))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["version"], body["max_total"]) == ("risk_questionnaire", "RQ-2026-11", 60)
    assert [q["id"] for q in body["questions"]] == list(ANSWERS)
    horizon = body["questions"][0]
    assert horizon["max_points"] == 10
    assert horizon["options"][0] == {"id": "under_1y", "text": "Less than 1 year", "points": 0}
    assert [(b["risk_level"], b["min_points"], b["max_points"]) for b in body["bands"]] == [
        ("C1", 0, 12),
        ("C2", 13, 24),
        ("C3", 25, 36),
        ("C4", 37, 48),
        ("C5", 49, 60),
    ]
    assert [(k["rule"], k["cap"]) for k in body["knockouts"]] == [
        ("RQ-KO-1", "C1"),
        ("RQ-KO-2", "C2"),
        ("RQ-KO-3", "C2"),
    ]
    unknown = client.get(QUESTIONNAIRE, params={"version": "RQ-1999-01"}, headers=partner.headers(client))
    assert problem_of(unknown, 422, "rule-violation")["context"]["field"] == "version"


def test_scoring_the_worked_example_question_by_question_and_refusing_bad_answers(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = white_label_app(platform).headers(client)
    response = client.post(ASSESSMENTS, json={"answers": answers()}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["max_total"], body["risk_level"], body["uncapped_level"]) == (
        39,
        60,
        "C4",
        "C4",
    )
    assert {p["question_id"]: p["points"] for p in body["points"]} == POINTS
    assert body["knockouts"] == []

    # Needing most of the money within a year scores 0 instead of 3 (36: C3) and caps the level at C2.
    capped = client.post(
        ASSESSMENTS, json={"answers": answers(liquidity_needs="most")}, headers=headers
    ).json()
    assert (capped["total"], capped["uncapped_level"], capped["risk_level"]) == (36, "C3", "C2")
    assert [(k["rule"], k["question_id"], k["option_id"]) for k in capped["knockouts"]] == [
        ("RQ-KO-3", "liquidity_needs", "most")
    ]

    missing = client.post(ASSESSMENTS, json={"answers": answers()[1:]}, headers=headers)
    assert problem_of(missing, 422, "rule-violation")["context"]["field"] == "answers.horizon"
    twice = client.post(ASSESSMENTS, json={"answers": [*answers(), answers()[0]]}, headers=headers)
    assert problem_of(twice, 422, "rule-violation")["context"]["field"] == "answers[10].question_id"
    bad_option = client.post(ASSESSMENTS, json={"answers": answers(horizon="forever")}, headers=headers)
    assert problem_of(bad_option, 422, "rule-violation")["context"]["field"] == "answers.horizon"
    unknown = client.post(ASSESSMENTS, json={"answers": answers(), "risk_level": "C5"}, headers=headers)
    assert [e["field"] for e in problem_of(unknown, 422, "validation-failed")["errors"]] == ["risk_level"]


# ---- customer proposals ------------------------------------------------------------------------------


def test_li_wei_gets_an_explained_suitable_proposal_that_is_stored(
    client: TestClient[Any], platform: Platform
) -> None:
    bank, grant, customer_id = delegated(client, platform, "li.wei")
    created = bank.call(client, "POST", PROPOSALS, grant.access_token)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("prp_")
    assert customer_id not in created.text  # the partner knows the customer by `sub` only
    assert body["profile"] == {
        "risk_level": "C2",
        "investor_class": "ordinary",
        "jurisdiction": "CN",
        "islamic_account": False,
        "home_market": "CN",
    }
    assert (body["model_id"], body["currency"]) == ("mdl_cn_c2", "CNY")
    assert [(h["asset_class"], h["weight"]) for h in body["holdings"]] == [
        ("money_market", "0.3000"),
        ("bond", "0.7000"),
    ]
    for holding in body["holdings"]:
        assert holding["role"] in holding["explanation"]
        assert holding["suitability"]["decision"] == "suitable"
        assert [r["code"] for r in holding["suitability"]["reasons"]] == ["risk_within_tolerance"]
    assert sum(Decimal(h["risk_contribution"]) for h in body["holdings"]) == 1
    assert body["expected_volatility"] == "0.0310"  # 0.3 x 1 % + 0.7 x 4 % (PR-03)
    # The two CN funds from the ledger count; the HK bond fund is reviewed, not weighed (PR-04).
    assert [(p["in_scope"], p["market_value"]["currency"]) for p in body["positions"]] == [
        (False, "HKD"),
        (True, "CNY"),
        (True, "CNY"),
    ]
    in_scope = sum(Decimal(p["market_value"]["amount"]) for p in body["positions"] if p["in_scope"])
    assert Decimal(body["portfolio_value"]["amount"]) == in_scope + Decimal("8921.20")  # the master's CNY
    assert [d["asset_class"] for d in body["drifts"]] == ["money_market", "bond"]
    assert {(t["side"], t["reason"]) for t in body["trades"]} == {("sell", "drift"), ("buy", "drift")}
    assert body["idle_cash"]["cash"] == {"amount": "8921.20", "currency": "CNY"}
    assert body["idle_cash"]["trades"]

    read = bank.call(client, "GET", f"{PROPOSALS}/{body['id']}", grant.access_token)
    assert read.status_code == 200, read.text
    assert read.json() == body
    logged = platform.environments[Environment.PRODUCTION].sharing.disclosures_of(customer_id)
    assert [record.resource for record in logged] == [f"{PROPOSALS}/{body['id']}"] * 2


def test_zhang_min_professional_c5_has_only_self_directed_positions(
    client: TestClient[Any], platform: Platform
) -> None:
    bank, grant, _ = delegated(client, platform, "zhang.min")
    created = bank.call(client, "POST", PROPOSALS, grant.access_token, json={})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["model_id"], body["profile"]["investor_class"]) == ("mdl_cn_c5", "professional")
    assert [p["in_scope"] for p in body["positions"]] == [False] * 4  # stocks, a leveraged ETF, abroad
    assert (body["drifts"], body["trades"]) == ([], [])
    for holding in body["holdings"]:
        assert [r["code"] for r in holding["suitability"]["reasons"]] == ["professional_investor"]
    assert body["idle_cash"]["excess"] == {"amount": "10974.68", "currency": "CNY"}  # all but 5 % of 11552.30


def test_a_proposal_is_visible_to_no_other_partner_and_no_other_customer(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION, "li.wei")
    other_customer = seed_customer(platform, Environment.PRODUCTION, "li.wei")
    bank = delegating_app(platform, scopes=(*ADVISING_BANK, Scope.ADVISORY_WHITE_LABEL))
    other_bank = delegating_app(platform, scopes=ADVISING_BANK)
    grant = authorize(client, bank, customer, ["advisory:read"])
    created = bank.call(client, "POST", PROPOSALS, grant.access_token)
    assert created.status_code == 201, created.text
    path = f"{PROPOSALS}/{created.json()['id']}"

    other_partner = authorize(client, other_bank, customer, ["advisory:read"])
    same_partner_other_customer = authorize(client, bank, other_customer, ["advisory:read"])
    never = bank.call(client, "GET", f"{PROPOSALS}/prp_00000000000000000000", grant.access_token)
    expected = problem_of(never, 404, "not-found")
    for app, token in ((other_bank, other_partner), (bank, same_partner_other_customer)):
        response = app.call(client, "GET", path, token.access_token)
        assert {**problem_of(response, 404, "not-found"), "request_id": None, "instance": None} == {
            **expected,
            "request_id": None,
            "instance": None,
        }
    # The bank's own client-credentials token reads white-label proposals only, never a customer's.
    own = client.get(f"{WHITE_LABEL}/{created.json()['id']}", headers=bank.app.headers(client))
    problem_of(own, 404, "not-found")


def test_a_model_the_customer_asks_for_is_suitability_checked(
    client: TestClient[Any], platform: Platform
) -> None:
    bank, grant, _ = delegated(client, platform, "li.wei")  # C2, ordinary
    refused = bank.call(client, "POST", PROPOSALS, grant.access_token, json={"model_id": "mdl_cn_c4"})
    problem = problem_of(refused, 422, "rule-violation")
    # The R4 equity fund is two levels above C2 (SUIT-05); the R3 funds would only need an acknowledgement.
    assert (problem["context"]["field"], problem["context"]["model_id"]) == ("model_id", "mdl_cn_c4")
    assert problem["context"]["instruments"] == ["ins_azuddb3yty"]
    assert problem["context"]["reasons"] == [
        {"instrument_id": "ins_azuddb3yty", "codes": ["risk_two_or_more_levels_above"]}
    ]
    one_above = bank.call(client, "POST", PROPOSALS, grant.access_token, json={"model_id": "mdl_cn_c3"})
    assert one_above.status_code == 201, one_above.text
    assert one_above.json()["required_acknowledgements"] == ["risk_mismatch_disclosure"]
    abroad = bank.call(client, "POST", PROPOSALS, grant.access_token, json={"model_id": "mdl_us_c2"})
    assert problem_of(abroad, 422, "rule-violation")["context"]["field"] == "model_id"
    unknown = bank.call(client, "POST", PROPOSALS, grant.access_token, json={"idle_cash_share": "0.5"})
    assert [e["field"] for e in problem_of(unknown, 422, "validation-failed")["errors"]] == [
        "idle_cash_share"
    ]


def test_a_cn_customers_proposal_does_not_go_abroad_without_permission(
    client: TestClient[Any], platform: Platform
) -> None:
    bank, grant, _ = delegated(client, platform, "li.wei", region="US")
    refused = problem_of(bank.call(client, "POST", PROPOSALS, grant.access_token), 403, "forbidden")
    assert {item["rule_id"] for item in refused["context"]["refused"]} == {"CN-PIPL-39", "CN-PIPL-28"}


# ---- white-label proposals ---------------------------------------------------------------------------


def test_a_white_label_proposal_from_a_risk_level_invests_the_whole_amount(
    client: TestClient[Any], platform: Platform
) -> None:
    partner, stranger = white_label_app(platform), white_label_app(platform)
    body = {
        "jurisdiction": "CN",
        "investor_class": "ordinary",
        "amount": {"amount": "100000.00", "currency": "CNY"},
        "risk_level": "C3",
    }
    created = client.post(WHITE_LABEL, json=body, headers=partner.headers(client))
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert (proposal["model_id"], proposal["risk_assessment"], proposal["positions"]) == (
        "mdl_cn_c3",
        None,
        [],
    )
    assert sum(Decimal(h["target_value"]["amount"]) for h in proposal["holdings"]) == Decimal("100000.00")
    assert all(h["suitability"]["decision"] == "suitable" for h in proposal["holdings"])
    assert proposal["policy"]["idle_cash_share"] == "0"  # PR-11: all of it is to be invested
    assert proposal["idle_cash"]["excess"] == {"amount": "100000.00", "currency": "CNY"}

    path = f"{WHITE_LABEL}/{proposal['id']}"
    assert client.get(path, headers=partner.headers(client)).json() == proposal
    problem_of(client.get(path, headers=stranger.headers(client)), 404, "not-found")


def test_a_white_label_proposal_from_answers_carries_the_assessment(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = white_label_app(platform).headers(client)
    body = {
        "jurisdiction": "HK",
        "investor_class": "ordinary",
        "amount": {"amount": "50000.00", "currency": "HKD"},
        "answers": answers(),
    }
    created = client.post(WHITE_LABEL, json=body, headers=headers)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert (proposal["model_id"], proposal["profile"]["risk_level"]) == ("mdl_hk_c4", "C4")
    assert proposal["risk_assessment"]["total"] == 39
    assert {p["question_id"]: p["points"] for p in proposal["risk_assessment"]["points"]} == POINTS


def test_white_label_requests_that_are_refused(client: TestClient[Any], platform: Platform) -> None:
    headers = white_label_app(platform).headers(client)
    valid = {
        "jurisdiction": "CN",
        "investor_class": "ordinary",
        "amount": {"amount": "1000.00", "currency": "CNY"},
        "risk_level": "C2",
    }
    for change, field in (
        ({"answers": answers()}, "risk_level"),  # a level and answers: give one of them
        ({"amount": {"amount": "100.00", "currency": "USD"}}, "amount"),  # not the home currency
        ({"amount": {"amount": "0", "currency": "CNY"}}, "amount"),
        ({"policy": {"idle_cash_share": "0.5"}}, "policy"),  # unknown field: no policy overrides
        ({"risk_level": "C6"}, "risk_level"),
    ):
        response = client.post(WHITE_LABEL, json={**valid, **change}, headers=headers)
        assert response.status_code == 422, (change, response.text)
        problem = response.json()
        fields = [e["field"] for e in problem.get("errors") or []] or [problem["context"]["field"]]
        assert fields == [field], change


def test_each_kind_of_token_reaches_only_its_own_advice(client: TestClient[Any], platform: Platform) -> None:
    # A client-credentials token never carries `advisory:read` (a customer-delegated scope), so the
    # edge refuses it before the handler, whose own guard would answer 404.
    partner = register_app(platform, scopes=(Scope.ADVISORY_WHITE_LABEL, Scope.ADVISORY_READ))
    response = client.post(PROPOSALS, headers=partner.headers(client))
    assert "advisory:read" in problem_of(response, 403, "forbidden")["detail"]

    # A customer's delegated token is refused everything white-label.
    bank, grant, _ = delegated(client, platform, "li.wei")
    body = {
        "jurisdiction": "CN",
        "investor_class": "ordinary",
        "amount": {"amount": "1000.00", "currency": "CNY"},
        "risk_level": "C2",
    }
    for method, path, kwargs in (
        ("POST", WHITE_LABEL, {"json": body}),
        ("GET", QUESTIONNAIRE, {}),
        ("POST", ASSESSMENTS, {"json": {"answers": answers()}}),
    ):
        response = bank.call(client, method, path, grant.access_token, **kwargs)
        problem_of(response, 403, "forbidden")
