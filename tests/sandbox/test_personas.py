from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final

import pytest

from gateway.domain.advisory.models import InvestorProfile
from gateway.domain.compliance.sanctions_data import load_sanctions_list
from gateway.domain.compliance.screening import Screener, ScreeningDecision, ScreeningSubject
from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.customers.models import AccountKind, Customer
from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency
from gateway.domain.trading.pretrade import risk_assessment_expires_on
from gateway.settings import Settings
from gateway.storage.database import Database
from sandbox.clock import FrozenClock
from sandbox.personas import COVERS, DEFAULT_DATA_FILE, Persona, is_empty, load_demo_customers, load_personas
from tests.trading import Desk, actor_for, build_desk, request


@pytest.fixture(scope="module")
def customers() -> tuple[Customer, ...]:
    return load_demo_customers()


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.from_file()


def by_username(customers: tuple[Customer, ...]) -> dict[str, Customer]:
    return {customer.username: customer for customer in customers}


@pytest.mark.parametrize(
    ("username", "residency", "risk_level", "investor_class"),
    [
        ("li.wei", Jurisdiction.CN, RiskLevel.C2, InvestorClass.ORDINARY),
        ("zhang.min", Jurisdiction.CN, RiskLevel.C5, InvestorClass.PROFESSIONAL),
        ("chan.tai-man", Jurisdiction.HK, RiskLevel.C3, InvestorClass.ORDINARY),
        ("anna.schmidt", Jurisdiction.EU, RiskLevel.C4, InvestorClass.ORDINARY),
        ("john.doe", Jurisdiction.US, RiskLevel.C1, InvestorClass.ORDINARY),
        ("aisha.rahman", Jurisdiction.HK, RiskLevel.C3, InvestorClass.ORDINARY),
        ("chen.jie", Jurisdiction.CN, RiskLevel.C3, InvestorClass.ORDINARY),
        ("andres.zukauskas", Jurisdiction.EU, RiskLevel.C3, InvestorClass.ORDINARY),
        ("emily.carter", Jurisdiction.US, RiskLevel.C3, InvestorClass.ORDINARY),
        ("lin.xiao", Jurisdiction.CN, RiskLevel.C2, InvestorClass.ORDINARY),
        ("ho.ka-ming", Jurisdiction.HK, RiskLevel.C4, InvestorClass.ORDINARY),
    ],
)
def test_the_personas(
    customers: tuple[Customer, ...],
    username: str,
    residency: Jurisdiction,
    risk_level: RiskLevel,
    investor_class: InvestorClass,
) -> None:
    customer = by_username(customers)[username]
    assert (customer.residency, customer.risk_level, customer.investor_class) == (
        residency,
        risk_level,
        investor_class,
    )
    assert customer.master_account.jurisdiction is residency


def test_li_wei_has_a_cny_master_and_a_hk_sub_account(customers: tuple[Customer, ...]) -> None:
    accounts = {(a.kind, a.jurisdiction, a.base_currency) for a in by_username(customers)["li.wei"].accounts}
    assert (AccountKind.MASTER, Jurisdiction.CN, Currency.CNY) in accounts
    assert (AccountKind.SUB, Jurisdiction.HK, Currency.HKD) in accounts


def test_anna_schmidt_has_a_eur_master_and_a_us_sub_account(customers: tuple[Customer, ...]) -> None:
    accounts = {
        (a.kind, a.jurisdiction, a.base_currency) for a in by_username(customers)["anna.schmidt"].accounts
    }
    assert (AccountKind.MASTER, Jurisdiction.EU, Currency.EUR) in accounts
    assert (AccountKind.SUB, Jurisdiction.US, Currency.USD) in accounts


def test_sizes_are_within_the_demo_bounds(customers: tuple[Customer, ...]) -> None:
    assert len(customers) >= 5
    for customer in customers:
        assert 1 <= len(customer.accounts) <= 3, customer.username
        if customer.username == "lin.xiao":  # the empty account
            assert (customer.holdings, customer.transactions) == ((), ())
            continue
        assert 2 <= len(customer.holdings) <= 5, customer.username
        assert 5 <= len(customer.transactions) <= 10, customer.username
        assert all(
            txn.booked_at.year == 2026 and txn.booked_at.tzinfo is UTC for txn in customer.transactions
        )


def test_ids_logins_and_numbers_are_unique(customers: tuple[Customer, ...]) -> None:
    columns = {
        "customer": [c.id for c in customers],
        "username": [c.username for c in customers],
        "account": [a.id for c in customers for a in c.accounts],
        "number": [a.number for c in customers for a in c.accounts],
        "transaction": [t.id for c in customers for t in c.transactions],
    }
    for name, values in columns.items():
        assert [v for v, n in Counter(values).items() if n > 1] == [], name
    assert all(c.id.startswith("cus_") for c in customers)


def test_every_holding_is_a_catalogue_instrument_in_its_market_and_currency(
    customers: tuple[Customer, ...], catalogue: Catalogue
) -> None:
    for customer in customers:
        accounts = {account.id: account for account in customer.accounts}
        for holding in customer.holdings:
            assert holding.instrument_id in catalogue, holding.instrument_id
            instrument = catalogue.get(holding.instrument_id)
            assert instrument.currency is holding.average_cost.currency is holding.market_value.currency
            assert instrument.market.value == accounts[holding.account_id].jurisdiction.value
            expected = (holding.quantity * instrument.reference_price).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            assert holding.market_value.amount == expected


def test_transaction_instruments_exist(customers: tuple[Customer, ...], catalogue: Catalogue) -> None:
    named = [t.instrument_id for c in customers for t in c.transactions if t.instrument_id is not None]
    assert named
    assert all(instrument_id in catalogue for instrument_id in named)


def test_balances_are_non_negative_and_multi_currency(customers: tuple[Customer, ...]) -> None:
    balances = [b for c in customers for a in c.accounts for b in a.balances]
    assert all(Decimal(0) <= b.available <= b.total for b in balances)
    assert {b.currency for b in balances} == set(Currency)


def test_seed_documents_round_trip_exactly(customers: tuple[Customer, ...]) -> None:
    raw = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    assert [customer.to_document() for customer in customers] == raw["customers"]
    for customer in customers:
        assert Customer.from_document(json.loads(json.dumps(customer.to_document()))) == customer


def write_variant(tmp_path: Path, change: Any) -> Path:
    raw = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    change(raw["customers"])
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def set_instrument(customers: list[Any]) -> None:
    customers[0]["holdings"][0]["instrument_id"] = "ins_zzzzzzzzzz"


def set_market_value(customers: list[Any]) -> None:
    customers[0]["holdings"][1]["market_value"]["amount"] = "1.00"


def duplicate_username(customers: list[Any]) -> None:
    customers[1]["username"] = customers[0]["username"]


def negative_quantity(customers: list[Any]) -> None:
    customers[2]["holdings"][0]["quantity"] = "-100"


def foreign_market(customers: list[Any]) -> None:
    # zhang.min's US ETF moved into the CN master account, which does keep USD cash
    customers[1]["holdings"][3]["account_id"] = customers[1]["accounts"][0]["id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_instrument, "no instrument ins_zzzzzzzzzz"),
        (set_market_value, "valued"),
        (duplicate_username, "duplicate username"),
        (negative_quantity, "quantity"),
        (foreign_market, "trades in"),
    ],
)
def test_the_loader_refuses_inconsistent_seed_data(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_demo_customers(write_variant(tmp_path, change))


# -- the published personas: sandbox metadata, the rule space and the personas page ---------------

PAGE = Path(__file__).parents[2] / "docs" / "sandbox" / "personas.md"
ASSESSED_BY: Final = date(2026, 12, 7)  # the day the personas were last reviewed


@pytest.fixture(scope="module")
def personas() -> tuple[Persona, ...]:
    return load_personas()


def covering(personas: tuple[Persona, ...], tag: str) -> list[Persona]:
    return [persona for persona in personas if tag in persona.covers]


def the_one(personas: tuple[Persona, ...], tag: str) -> Persona:
    (persona,) = covering(personas, tag)
    return persona


def test_personas_are_the_demo_customers_in_order(
    personas: tuple[Persona, ...], customers: tuple[Customer, ...]
) -> None:
    assert tuple(persona.customer for persona in personas) == customers


def test_the_personas_cover_the_rule_space(personas: tuple[Persona, ...]) -> None:
    covered = {tag for persona in personas for tag in persona.covers}
    assert covered == set(COVERS)
    assert set(COVERS) == {
        *("C1", "C2", "C3", "C4", "C5"),
        *("CN", "HK", "EU", "US"),
        *("professional", "ordinary", "islamic", "restricted", "screening_hit"),
        *("risk_assessment_expired", "empty", "multi_currency"),
    }


def test_every_persona_signs_in_with_the_published_sandbox_password(personas: tuple[Persona, ...]) -> None:
    assert {persona.password for persona in personas} == {"sandbox-pass"}


def test_covers_restate_each_persona_s_profile(personas: tuple[Persona, ...]) -> None:
    for persona in personas:
        customer = persona.customer
        profile = {customer.risk_level.name, customer.residency.value, customer.investor_class.value}
        assert profile <= set(persona.covers), customer.username


def markdown_table(heading: str) -> list[list[str]]:
    """The rows of the first table under `heading`, each cell stripped of spaces."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, rule, *rows = table
    assert set("".join(rule)) == {"-"}, rule
    assert all(len(row) == len(header) for row in rows)
    return [header, *rows]


def code(cell: str) -> str:
    assert (cell[:1], cell[-1:]) == ("`", "`"), cell
    return cell[1:-1]


def test_the_page_lists_every_persona_as_in_the_data(personas: tuple[Persona, ...]) -> None:
    header, *rows = markdown_table("## The personas")
    assert header == [
        "Sign-in", "Password", "Residency", "Risk level", "Class", "Covers", "For", "What to expect",
    ]  # fmt: skip
    published = [
        [
            code(sign_in),
            code(password),
            residency,
            risk_level,
            investor_class,
            tuple(code(tag) for tag in covers.split()),
            summary,
            expect,
        ]
        for sign_in, password, residency, risk_level, investor_class, covers, summary, expect in rows
    ]
    assert published == [
        [
            p.customer.username,
            p.password,
            p.customer.residency.value,
            p.customer.risk_level.name,
            p.customer.investor_class.value,
            p.covers,
            p.summary,
            p.expect,
        ]
        for p in personas
    ]


def test_the_page_explains_every_cover_tag() -> None:
    header, *rows = markdown_table("## What the covers mean")
    assert header == ["Tag", "Meaning"]
    explained = [code(tag) for tags, _ in rows for tag in tags.split()]
    assert sorted(explained) == sorted(COVERS)


# -- each persona really has the traits it covers -------------------------------------------------


@pytest.fixture
def desk(backend_settings: Settings) -> Iterator[Desk]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield build_desk(database, FrozenClock(datetime.combine(ASSESSED_BY, time(2), tzinfo=UTC)))
    finally:
        database.dispose()


def test_the_islamic_persona_is_refused_a_non_shariah_instrument(
    personas: tuple[Persona, ...], desk: Desk
) -> None:
    persona = the_one(personas, "islamic")
    assert persona.customer.islamic_account
    assert [p for p in personas if p.customer.islamic_account] == [persona]
    customer = desk.customer(persona.customer.username)
    market = persona.customer.master_account.jurisdiction.value
    shariah = [i for i in desk.catalogue if i.market.value == market and i.shariah_compliant]
    other = [i for i in desk.catalogue if i.market.value == market and not i.shariah_compliant]
    # The same risk level either way, so that SUIT-06 alone makes the difference.
    held = {h.instrument_id for h in persona.customer.holdings}
    assert held <= {i.id for i in desk.catalogue if i.shariah_compliant}
    refused = next(i for i in other if i.risk <= persona.customer.risk_level)
    allowed = next(i for i in shariah if i.risk == refused.risk)
    for instrument, status, reason in (
        (refused, "failed", "islamic_account_non_shariah"),
        (allowed, "passed", "islamic_account_shariah_compliant"),
    ):
        terms = {"instrument_id": instrument.id, "quantity": instrument.lot_size}
        preview = desk.entry.preview(actor_for(customer), request(**terms))
        (check,) = [c for c in preview.report.checks if c.rule == "PTC-08"]
        assert (check.status, reason in check.inputs["reasons"].split(",")) == (status, True), instrument.id
    profile = InvestorProfile.of_customer(persona.customer).customer_facts()
    assert profile.islamic_account


def test_the_screening_persona_is_blocked_and_no_other_persona_is(personas: tuple[Persona, ...]) -> None:
    screener = Screener(load_sanctions_list())
    hit = the_one(personas, "screening_hit")
    for persona in personas:
        kyc = persona.customer.kyc
        full = screener.screen(ScreeningSubject(kyc.legal_name, kyc.date_of_birth, kyc.nationality))
        if persona is hit:
            name_only = screener.screen(ScreeningSubject(kyc.legal_name))
            assert (full.decision, name_only.decision) == (ScreeningDecision.BLOCK, ScreeningDecision.BLOCK)
            assert name_only.hits[0].score >= screener.thresholds.block == 0.95
            assert name_only.hits[0].entry_id == "SAN-00058"
        else:
            assert full.decision is ScreeningDecision.CLEAR, persona.customer.username


def test_only_the_expired_persona_s_assessment_is_older_than_24_months(personas: tuple[Persona, ...]) -> None:
    for persona in personas:
        assessed = persona.customer.risk_assessed_on
        assert assessed is not None, persona.customer.username
        expired = risk_assessment_expires_on(assessed) <= ASSESSED_BY
        assert expired == ("risk_assessment_expired" in persona.covers), persona.customer.username


def test_the_expired_persona_s_purchase_preview_fails_and_its_redemption_does_not(
    personas: tuple[Persona, ...], desk: Desk
) -> None:
    persona = the_one(personas, "risk_assessment_expired")
    customer = desk.customer(persona.customer.username)
    actor = actor_for(customer)
    fund = next(
        h.instrument_id
        for h in persona.customer.holdings
        if desk.instrument(h.instrument_id).fund is not None
    )
    buy = desk.entry.preview(
        actor, request(instrument_id=fund, order_type="fund_subscription", amount="100.00")
    )
    (failure,) = buy.report.failures
    assert (failure.code, failure.inputs["validity_months"]) == ("risk_assessment_expired", "24")
    assert failure.inputs["risk_assessed_on"] == str(persona.customer.risk_assessed_on)
    sell = desk.entry.preview(
        actor, request(instrument_id=fund, side="sell", order_type="fund_redemption", quantity="10")
    )
    assert sell.report.can_place


def test_the_empty_persona_has_no_money(personas: tuple[Persona, ...]) -> None:
    customer = the_one(personas, "empty").customer
    assert [b.total for a in customer.accounts for b in a.balances] == [Decimal("0.00")]
    assert (customer.holdings, customer.transactions) == ((), ())
    assert [p for p in personas if is_empty(p.customer)] == [the_one(personas, "empty")]


def test_the_multi_currency_persona_holds_all_four_currencies(
    personas: tuple[Persona, ...], catalogue: Catalogue
) -> None:
    customer = the_one(personas, "multi_currency").customer
    with_money = {b.currency for a in customer.accounts for b in a.balances if b.total > 0}
    assert with_money == {Currency.CNY, Currency.HKD, Currency.USD, Currency.EUR}
    markets = {catalogue.get(h.instrument_id).market.value for h in customer.holdings}
    assert markets == {"CN", "HK", "US"}


def test_only_the_restricted_persona_starts_restricted(personas: tuple[Persona, ...]) -> None:
    assert [p for p in personas if p.restricted] == [the_one(personas, "restricted")]


# -- the loader refuses persona entries that do not match the customers --------------------------


def write_personas(tmp_path: Path, change: Any) -> Path:
    raw = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def unknown_field(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["pasword"] = "typo"


def unknown_tag(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["covers"].append("vip")


def missing_entry(raw: dict[str, Any]) -> None:
    del raw["personas"]["li.wei"]


def stray_entry(raw: dict[str, Any]) -> None:
    raw["personas"]["nobody"] = raw["personas"]["li.wei"]


def wrong_risk_level(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["covers"] = ["C3", "CN", "ordinary"]


def islamic_without_the_flag(raw: dict[str, Any]) -> None:
    raw["customers"][5]["islamic_account"] = False


def restricted_without_the_tag(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["restricted"] = True


def empty_with_money(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["covers"].append("empty")


def multi_currency_without_eur(raw: dict[str, Any]) -> None:
    raw["personas"]["zhang.min"]["covers"].append("multi_currency")


def no_password(raw: dict[str, Any]) -> None:
    raw["personas"]["li.wei"]["password"] = ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (unknown_field, "unknown field `pasword`"),
        (unknown_tag, "Invalid enum value 'vip'"),
        (missing_entry, "no persona entry for li.wei"),
        (stray_entry, "persona entries without a customer: nobody"),
        (
            wrong_risk_level,
            r"li.wei: covers \['C3', 'CN', 'ordinary'\], the record \['C2', 'CN', 'ordinary'\]",
        ),
        (islamic_without_the_flag, "aisha.rahman: the 'islamic' cover"),
        (restricted_without_the_tag, "li.wei: the 'restricted' cover"),
        (empty_with_money, "li.wei: the 'empty' cover"),
        (multi_currency_without_eur, "zhang.min: 'multi_currency' needs"),
        (no_password, "Expected `str` of length >= 1"),
    ],
)
def test_the_loader_refuses_persona_entries_that_do_not_hold(
    tmp_path: Path, change: Any, message: str
) -> None:
    path = write_personas(tmp_path, change)
    with pytest.raises(ValueError, match=message):
        load_personas(path)
    with pytest.raises(ValueError, match=message):
        load_demo_customers(path)
