"""Customer data for a partner acting under the customer's consent. The edge has already checked
the consent (status, expiry, scope); the sharing service minimises each field by data category and
by the cross-border policy, and logs every disclosure with its consent."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

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
from gateway.domain.scopes import Scope
from gateway.domain.sharing.service import SharingService
from gateway.domain.sharing.views import Disclosure
from gateway.edge.access import requires
from gateway.edge.principal import Principal
from gateway.services import PrincipalDep


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
    async def list_accounts(
        self, sharing: NamedDependency[SharingService], principal: PrincipalDep
    ) -> AccountList:
        """Accounts with masked numbers and cash balances (accounts:read)."""
        views = sharing.accounts(principal.recipient)
        return AccountList(data=each(AccountOut, views.items), sharing=_sharing(principal, views.disclosure))

    @get("/holdings", operation_id="listHoldings", responses=problems(404), **requires(Scope.HOLDINGS_READ))
    async def list_holdings(
        self, sharing: NamedDependency[SharingService], principal: PrincipalDep
    ) -> HoldingList:
        views = sharing.holdings(principal.recipient)
        return HoldingList(data=each(HoldingOut, views.items), sharing=_sharing(principal, views.disclosure))

    @get(
        "/transactions",
        operation_id="listTransactions",
        responses=problems(404),
        **requires(Scope.TRANSACTIONS_READ),
    )
    async def list_transactions(
        self, sharing: NamedDependency[SharingService], principal: PrincipalDep
    ) -> TransactionList:
        views = sharing.transactions(principal.recipient)
        data = each(TransactionOut, views.items)
        return TransactionList(data=data, sharing=_sharing(principal, views.disclosure))

    @get(
        "/profile/risk",
        operation_id="getRiskProfile",
        responses=problems(404),
        **requires(Scope.PROFILE_RISK_READ),
    )
    async def get_risk_profile(
        self, sharing: NamedDependency[SharingService], principal: PrincipalDep
    ) -> RiskProfileView:
        view = sharing.risk_profile(principal.recipient)
        data = shaped(RiskProfileOut, view.shared)
        return RiskProfileView(data=data, sharing=_sharing(principal, view.disclosure))

    @get("/profile", operation_id="getProfile", responses=problems(404), **requires(Scope.PROFILE_READ))
    async def get_profile(
        self, sharing: NamedDependency[SharingService], principal: PrincipalDep
    ) -> ProfileView:
        view = sharing.kyc_profile(principal.recipient)
        return ProfileView(data=shaped(ProfileOut, view.shared), sharing=_sharing(principal, view.disclosure))
