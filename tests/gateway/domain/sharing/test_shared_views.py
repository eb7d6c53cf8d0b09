from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.customers.models import Customer
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from gateway.domain.sharing.categories import DataCategory, categories_for
from gateway.domain.sharing.crossborder import PARTNER_REGIONS, Outcome
from gateway.domain.sharing.views import (
    ACCOUNT_FIELDS,
    HOLDING_FIELDS,
    KYC_PROFILE_FIELDS,
    RISK_PROFILE_FIELDS,
    TRANSACTION_FIELDS,
    Audience,
    FieldRule,
    Shared,
    SharedCollection,
    SharedView,
    account_views,
    holding_views,
    kyc_profile_view,
    risk_profile_view,
    share,
    transaction_views,
)
from sandbox.personas import load_demo_customers

C = DataCategory
CUSTOMERS = {customer.username: customer for customer in load_demo_customers()}
LI_WEI = CUSTOMERS["li.wei"]  # CN resident
ANNA = CUSTOMERS["anna.schmidt"]  # EU resident
IDENTITY_FIELDS = (
    "legal_name",
    "date_of_birth",
    "nationality",
    "national_id",
    "residency",
    "address_country",
)


def audience(*scopes: Scope, region: str, permitted: bool = False) -> Audience:
    return Audience(categories_for(scopes), region, permitted)


def toy_share(granted: set[DataCategory], residency: Jurisdiction, region: str, permitted: bool) -> Shared:
    return share(
        {"name": "Li Wei", "tag": "x", "balance": "10.00", "holding": "ins_1"},
        {"name": C.IDENTITY, "tag": C.IDENTITY, "balance": C.CASH_BALANCE, "holding": C.HOLDING},
        granted=frozenset(granted),
        residency=residency,
        partner_region=region,
        cross_border_permitted=permitted,
        maskers={"name": lambda value: f"masked:{value}"},
    )


# --- share ---------------------------------------------------------------------------------------


def test_share_leaves_out_categories_that_are_not_granted() -> None:
    shared = toy_share({C.CASH_BALANCE}, Jurisdiction.CN, "CN", False)
    assert shared.fields == {"balance": "10.00"}
    assert shared.withheld == ("name", "tag", "holding")
    assert shared.masked == ()
    assert [d.inputs["category"] for d in shared.decisions] == ["cash_balance"]  # none for ungranted


def test_share_masks_with_the_masker_and_withholds_fields_without_one() -> None:
    shared = toy_share({C.IDENTITY, C.HOLDING}, Jurisdiction.CN, "US", True)
    assert shared.fields == {"name": "masked:Li Wei", "holding": "ins_1"}
    assert shared.masked == ("name",)
    assert shared.withheld == ("tag", "balance")
    assert [(d.inputs["category"], d.outcome) for d in shared.decisions] == [
        ("identity", Outcome.MASK),
        ("holding", Outcome.ALLOW),
    ]


def test_share_withholds_what_the_policy_denies() -> None:
    shared = toy_share(set(DataCategory), Jurisdiction.CN, "US", False)
    assert shared.fields == {}
    assert shared.withheld == ("name", "tag", "balance", "holding")
    assert {d.outcome for d in shared.decisions} == {Outcome.DENY}


def test_share_masks_always_masked_fields_even_where_the_policy_allows() -> None:
    shared = share(
        {"number": "900100000001", "kind": "master"},
        {"number": C.ACCOUNT_REFERENCE, "kind": C.ACCOUNT_REFERENCE},
        granted=frozenset({C.ACCOUNT_REFERENCE}),
        residency=Jurisdiction.US,
        partner_region="US",
        cross_border_permitted=False,
        maskers={"number": lambda value: "****"},
        always_masked=frozenset({"number"}),
    )
    assert shared.fields == {"number": "****", "kind": "master"}
    assert shared.masked == ("number",)
    assert len(shared.decisions) == 1


def test_share_refuses_a_field_without_a_category() -> None:
    with pytest.raises(ValueError, match="secret"):
        share(
            {"secret": 1},
            {},
            granted=frozenset(DataCategory),
            residency=Jurisdiction.US,
            partner_region="US",
            cross_border_permitted=True,
            maskers={},
        )


# --- builders ------------------------------------------------------------------------------------


def test_accounts_read_only_shows_no_holding_fields() -> None:
    view = account_views(LI_WEI, audience(Scope.ACCOUNTS_READ, region="CN"))
    assert len(view.items) == len(LI_WEI.accounts)
    for item, account in zip(view.items, LI_WEI.accounts, strict=True):
        assert set(item.fields) == {
            "account_id",
            "kind",
            "jurisdiction",
            "number",
            "base_currency",
            "balances",
        }
        assert item.withheld == ("holding_count", "market_value")
        assert item.masked == ("number",)
        assert item.fields["number"] == "•••• " + account.number[-4:]
    assert view.disclosure.resource == "accounts"
    assert view.disclosure.categories == {C.ACCOUNT_REFERENCE, C.CASH_BALANCE}
    assert view.disclosure.withheld == ("holding_count", "market_value")


def test_accounts_with_holdings_read_add_count_and_value() -> None:
    view = account_views(LI_WEI, audience(Scope.ACCOUNTS_READ, Scope.HOLDINGS_READ, region="CN"))
    master = view.items[0].fields
    assert master["account_id"] == "acc_demo0001cn"
    assert master["holding_count"] == 2
    assert master["market_value"] == [{"currency": "CNY", "amount": "17416.00"}]  # 12000.00 + 5416.00
    assert master["balances"] == [{"currency": "CNY", "available": "8671.20", "total": "8921.20"}]
    assert view.items[0].withheld == ()


def test_holdings_read_only_gives_positions_without_account_data() -> None:
    view = holding_views(LI_WEI, audience(Scope.HOLDINGS_READ, region="CN"))
    assert [item.fields["instrument_id"] for item in view.items] == [h.instrument_id for h in LI_WEI.holdings]
    assert set(view.disclosure.fields) == set(HOLDING_FIELDS)
    assert view.disclosure.withheld == ()
    assert view.items[1].fields["market_value"] == "5416.00"


def test_holdings_to_a_foreign_partner_need_the_cn_transfer_permission() -> None:
    denied = holding_views(LI_WEI, audience(Scope.HOLDINGS_READ, region="US"))
    assert all(item.fields == {} for item in denied.items)
    assert denied.disclosure.fields == ()
    assert denied.disclosure.withheld == tuple(HOLDING_FIELDS)
    assert {(d.rule_id, d.outcome) for d in denied.disclosure.decisions} == {("CN-PIPL-28", Outcome.DENY)}
    allowed = holding_views(LI_WEI, audience(Scope.HOLDINGS_READ, region="US", permitted=True))
    assert all(set(item.fields) == set(HOLDING_FIELDS) for item in allowed.items)


def test_risk_scope_alone_gives_nothing_from_the_kyc_builder() -> None:
    view = kyc_profile_view(LI_WEI, audience(Scope.PROFILE_RISK_READ, region="CN"))
    assert view.shared.fields == {}
    assert view.shared.withheld == IDENTITY_FIELDS
    assert view.shared.masked == ()
    assert view.shared.decisions == ()
    assert view.disclosure.categories == frozenset()


def test_risk_profile_view_shares_the_risk_level_and_class_only() -> None:
    view = risk_profile_view(LI_WEI, audience(Scope.PROFILE_RISK_READ, region="CN"))
    assert view.shared.fields == {"risk_level": "C2", "investor_class": "ordinary"}
    assert set(RISK_PROFILE_FIELDS) == {"risk_level", "investor_class"}
    assert risk_profile_view(LI_WEI, audience(Scope.PROFILE_READ, region="CN")).shared.fields == {}


def test_kyc_profile_at_home_masks_only_the_national_id() -> None:
    view = kyc_profile_view(LI_WEI, audience(Scope.PROFILE_READ, region="CN"))
    assert view.shared.fields == {
        "legal_name": "Li Wei",
        "date_of_birth": "1988-04-12",
        "nationality": "CN",
        "national_id": "99************0011",
        "residency": "CN",
        "address_country": "CN",
    }
    assert view.shared.masked == ("national_id",)
    assert view.shared.withheld == ()


def test_kyc_profile_of_a_cn_resident_abroad_with_permission_is_minimised() -> None:
    view = kyc_profile_view(LI_WEI, audience(Scope.PROFILE_READ, region="US", permitted=True))
    assert view.shared.fields == {
        "legal_name": "L*** W***",
        "date_of_birth": "1988",
        "national_id": "99************0011",
        "residency": "CN",
        "address_country": "CN",
    }
    assert view.shared.masked == ("legal_name", "date_of_birth", "national_id")
    assert view.shared.withheld == ("nationality",)  # no masked form of a country


def test_kyc_profile_of_an_eu_resident_outside_the_eu() -> None:
    without = kyc_profile_view(ANNA, audience(Scope.PROFILE_READ, region="US"))
    assert without.shared.fields == {}
    assert without.shared.withheld == IDENTITY_FIELDS
    to_gb = kyc_profile_view(ANNA, audience(Scope.PROFILE_READ, region="GB"))
    assert to_gb.shared.fields["legal_name"] == "Anna Schmidt"
    assert to_gb.shared.masked == ("national_id",)


def test_eu_account_data_travels_on_contract_necessity() -> None:
    view = account_views(ANNA, audience(Scope.ACCOUNTS_READ, region="SG"))
    assert all("balances" in item.fields for item in view.items)
    assert {d.rule_id for d in view.disclosure.decisions} == {"EU-GDPR-49-1-B"}


def test_transactions_are_oldest_first_and_need_their_scope() -> None:
    view = transaction_views(LI_WEI, audience(Scope.TRANSACTIONS_READ, region="CN"))
    booked = [str(item.fields["booked_at"]) for item in view.items]
    assert booked == sorted(booked)
    assert len(view.items) == len(LI_WEI.transactions)
    assert set(view.items[0].fields) == set(TRANSACTION_FIELDS)
    hidden = transaction_views(LI_WEI, audience(Scope.ACCOUNTS_READ, Scope.HOLDINGS_READ, region="CN"))
    assert all(item.fields == {} for item in hidden.items)
    assert hidden.disclosure.withheld == tuple(TRANSACTION_FIELDS)


def test_disclosure_document_is_json() -> None:
    view = kyc_profile_view(LI_WEI, audience(Scope.PROFILE_READ, region="US", permitted=True))
    document = json.loads(json.dumps(view.disclosure.as_document()))
    assert document["resource"] == "kyc_profile"
    assert document["categories"] == ["identity", "national_id", "residency"]
    assert document["masked"] == ["legal_name", "date_of_birth", "national_id"]
    assert document["withheld"] == ["nationality"]
    assert [d["rule_id"] for d in document["decisions"]] == [
        "CN-PIPL-38-MINIMISED",
        "CN-PIPL-38-MINIMISED",
        "CN-PIPL-38",
    ]


def test_every_field_table_row_has_a_masker_where_it_must_always_be_masked() -> None:
    tables = (ACCOUNT_FIELDS, HOLDING_FIELDS, TRANSACTION_FIELDS, RISK_PROFILE_FIELDS, KYC_PROFILE_FIELDS)
    always = {name for table in tables for name, rule in table.items() if rule.always_masked}
    assert always == {"number", "national_id"}
    assert all(
        isinstance(rule, FieldRule) and rule.masker is not None
        for t in tables
        for rule in t.values()
        if rule.always_masked
    )


# --- properties over every seed customer, scope set and partner ------------------------------------

Builder = Callable[[Customer, Audience], SharedCollection | SharedView]
BUILDERS: dict[str, tuple[Builder, dict[str, FieldRule]]] = {
    "accounts": (account_views, dict(ACCOUNT_FIELDS)),
    "holdings": (holding_views, dict(HOLDING_FIELDS)),
    "transactions": (transaction_views, dict(TRANSACTION_FIELDS)),
    "risk_profile": (risk_profile_view, dict(RISK_PROFILE_FIELDS)),
    "kyc_profile": (kyc_profile_view, dict(KYC_PROFILE_FIELDS)),
}


def items_of(result: SharedCollection | SharedView) -> tuple[Shared, ...]:
    return result.items if isinstance(result, SharedCollection) else (result.shared,)


@settings(max_examples=150, deadline=None)
@given(
    username=st.sampled_from(sorted(CUSTOMERS)),
    scopes=st.sets(st.sampled_from(sorted(CUSTOMER_DELEGATED))),
    region=st.sampled_from(sorted(PARTNER_REGIONS)),
    permitted=st.booleans(),
    resource=st.sampled_from(sorted(BUILDERS)),
)
def test_nothing_leaves_outside_the_grant_and_secrets_never_leave_in_clear(
    username: str, scopes: set[Scope], region: str, permitted: bool, resource: str
) -> None:
    customer = CUSTOMERS[username]
    granted = categories_for(scopes)
    builder, table = BUILDERS[resource]
    result = builder(customer, Audience(granted, region, permitted))
    for item in items_of(result):
        assert set(item.fields) | set(item.withheld) == set(table)  # every field is accounted for
        assert not set(item.fields) & set(item.withheld)
        assert set(item.masked) <= set(item.fields)
        assert all(table[name].category in granted for name in item.fields)
    dumped = json.dumps([item.fields for item in items_of(result)], ensure_ascii=False)
    assert customer.kyc.national_id not in dumped
    assert not any(account.number in dumped for account in customer.accounts)
    assert all(table[name].category in granted for name in result.disclosure.fields)
    assert result.disclosure.categories <= granted
