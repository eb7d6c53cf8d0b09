"""Customer data for a partner acting under the customer's consent. The edge has already checked
the consent (status, expiry, scope); here each field is minimised by data category and by the
cross-border policy, and every disclosure is logged with its consent."""

from __future__ import annotations

import secrets

from litestar import Controller, get
from litestar.exceptions import NotFoundException

from gateway.apis.schemas import problems
from gateway.apis.v1.customers.schemas import (
    AccountList,
    AccountOut,
    HoldingList,
    HoldingOut,
    ProfileOut,
    ProfileView,
    RiskProfileOut,
    RiskProfileView,
    Sharing,
    TransactionList,
    TransactionOut,
    each,
    shaped,
)
from gateway.domain.customers.models import Customer
from gateway.domain.scopes import Scope
from gateway.domain.sharing.categories import categories_for
from gateway.domain.sharing.views import (
    Audience,
    Disclosure,
    account_views,
    holding_views,
    kyc_profile_view,
    risk_profile_view,
    transaction_views,
)
from gateway.edge.access import requires
from gateway.edge.principal import Principal
from gateway.services import EnvDep, EnvironmentServices, PrincipalDep
from gateway.storage.customers import DisclosureRecord


def _customer(env: EnvironmentServices, principal: Principal) -> tuple[Customer, Audience]:
    consent = principal.consent
    if consent is None or consent.customer_id is None:
        # A client-credentials token has no customer: there is nothing of anyone's to show.
        raise NotFoundException(detail="this operation needs a token delegated by a customer")
    customer = env.customers.get(consent.customer_id)
    if customer is None:
        raise NotFoundException(detail="the customer behind this consent no longer exists")
    customer = env.trading.current(customer)  # cash and positions as the ledger has them now
    granted = principal.token.scopes & frozenset(str(scope) for scope in consent.permissions)
    audience = Audience(
        granted=categories_for(granted),
        partner_region=principal.client.partner.region,
        cross_border_permitted=consent.cross_border,
    )
    return customer, audience


def _log(env: EnvironmentServices, principal: Principal, path: str, disclosure: Disclosure) -> None:
    consent = principal.consent
    if consent is None or consent.customer_id is None:  # _customer refused this call already
        raise NotFoundException(detail="this operation needs a token delegated by a customer")
    document = disclosure.as_document()
    env.customers.add_disclosure(
        DisclosureRecord(
            id=f"dsc_{secrets.token_hex(10)}",
            consent_id=consent.id,
            customer_id=consent.customer_id,
            partner_id=principal.partner_id,
            client_id=principal.client_id,
            resource=path,
            categories=tuple(sorted(category.value for category in disclosure.categories)),
            fields=disclosure.fields,
            masked=disclosure.masked,
            withheld=disclosure.withheld,
            decisions=tuple(document["decisions"]),  # type: ignore[arg-type]
            at=env.auth_server.tokens.clock.now(),
        )
    )


def _sharing(principal: Principal, disclosure: Disclosure) -> Sharing:
    return Sharing(
        subject=principal.token.subject,
        masked_fields=list(disclosure.masked),
        withheld_fields=list(disclosure.withheld),
    )


class CustomerDataController(Controller):
    path = "/v1"
    tags = ["customer data"]

    @get("/accounts", operation_id="listAccounts", responses=problems(404), **requires(Scope.ACCOUNTS_READ))
    async def list_accounts(self, env: EnvDep, principal: PrincipalDep) -> AccountList:
        """Accounts with masked numbers and cash balances (accounts:read)."""
        customer, audience = _customer(env, principal)
        views = account_views(customer, audience)
        _log(env, principal, "/v1/accounts", views.disclosure)
        return AccountList(data=each(AccountOut, views.items), sharing=_sharing(principal, views.disclosure))

    @get("/holdings", operation_id="listHoldings", responses=problems(404), **requires(Scope.HOLDINGS_READ))
    async def list_holdings(self, env: EnvDep, principal: PrincipalDep) -> HoldingList:
        customer, audience = _customer(env, principal)
        views = holding_views(customer, audience)
        _log(env, principal, "/v1/holdings", views.disclosure)
        return HoldingList(data=each(HoldingOut, views.items), sharing=_sharing(principal, views.disclosure))

    @get(
        "/transactions",
        operation_id="listTransactions",
        responses=problems(404),
        **requires(Scope.TRANSACTIONS_READ),
    )
    async def list_transactions(self, env: EnvDep, principal: PrincipalDep) -> TransactionList:
        customer, audience = _customer(env, principal)
        views = transaction_views(customer, audience)
        _log(env, principal, "/v1/transactions", views.disclosure)
        data = each(TransactionOut, views.items)
        return TransactionList(data=data, sharing=_sharing(principal, views.disclosure))

    @get(
        "/profile/risk",
        operation_id="getRiskProfile",
        responses=problems(404),
        **requires(Scope.PROFILE_RISK_READ),
    )
    async def get_risk_profile(self, env: EnvDep, principal: PrincipalDep) -> RiskProfileView:
        customer, audience = _customer(env, principal)
        view = risk_profile_view(customer, audience)
        _log(env, principal, "/v1/profile/risk", view.disclosure)
        data = shaped(RiskProfileOut, view.shared)
        return RiskProfileView(data=data, sharing=_sharing(principal, view.disclosure))

    @get("/profile", operation_id="getProfile", responses=problems(404), **requires(Scope.PROFILE_READ))
    async def get_profile(self, env: EnvDep, principal: PrincipalDep) -> ProfileView:
        customer, audience = _customer(env, principal)
        view = kyc_profile_view(customer, audience)
        _log(env, principal, "/v1/profile", view.disclosure)
        return ProfileView(data=shaped(ProfileOut, view.shared), sharing=_sharing(principal, view.disclosure))
