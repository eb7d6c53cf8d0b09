"""Advisory for partners: the questionnaire, the model portfolios and proposals, on the injected clock.

Two kinds of caller, kept apart:
- a partner app acting for a brokerage customer (a token the customer delegated) asks for that
  customer's proposal, made from the customer's risk profile and ledger;
- a partner institution with its own client-credentials token scores the questionnaire and asks for
  proposals for its own clients, who are unknown to us (white-label).
A proposal is visible only to the partner that asked for it and, for a customer's proposal, only
under that customer; anything else reads as not found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from gateway.domain.advisory.errors import InvalidProposalError, UnsuitableProposalError
from gateway.domain.advisory.models import (
    DEFAULT_POLICY,
    AnonymousProfile,
    CurrentHolding,
    InvestorProfile,
    Proposal,
    RebalancePolicy,
)
from gateway.domain.advisory.portfolios import MARKET_CURRENCY, ModelPortfolio, build_model
from gateway.domain.advisory.ports import (
    CustomerRecords,
    DisclosureLog,
    LedgerBalances,
    Prices,
    ProposalStore,
    TransferPolicy,
)
from gateway.domain.advisory.proposing import propose, propose_anonymous
from gateway.domain.advisory.questionnaire import (
    QUESTIONNAIRE_VERSION,
    Questionnaire,
    RiskAssessment,
    questionnaire,
    score,
)
from gateway.domain.clock import Clock
from gateway.domain.compliance.suitability import RiskLevel
from gateway.domain.customers.models import Customer
from gateway.domain.customers.service import customer_behind
from gateway.domain.errors import ForbiddenError, NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Market
from gateway.domain.money import CENT, Money
from gateway.domain.sharing.categories import DataCategory
from gateway.domain.sharing.crossborder import Outcome, PolicyDecision
from gateway.domain.sharing.models import DisclosureRecord, Recipient
from gateway.domain.sharing.views import Disclosure
from gateway.domain.trading import ledger

NO_CUSTOMER: Final = "customer proposals need a token delegated by a customer"

# What a customer's proposal tells the partner about the customer: the risk level and investor class
# behind the model, the positions with their values, and the cash (in the portfolio value and the
# idle-cash suggestion). `advisory:read` grants the proposal as a whole (DOMAIN.md: "proposals and
# rebalancing suggestions for the customer"), but these categories still cross borders only where
# the transfer policy allows them, and the disclosure log names them.
PROPOSAL_CATEGORIES: Final = (
    DataCategory.RISK_PROFILE,
    DataCategory.HOLDING,
    DataCategory.HOLDING_VALUE,
    DataCategory.CASH_BALANCE,
)
# The fields of a proposal as partners receive it, for the disclosure log (pinned to the v1 wire
# format by a test).
PROPOSAL_FIELDS: Final = (
    "id",
    "object",
    "created_at",
    "profile",
    "risk_assessment",
    "model_id",
    "model_version",
    "catalogue_version",
    "currency",
    "portfolio_value",
    "expected_volatility",
    "holdings",
    "positions",
    "drifts",
    "trades",
    "net_cash_flow",
    "idle_cash",
    "policy",
    "required_acknowledgements",
    "notes",
)


@dataclass(frozen=True, slots=True)
class AdvisoryService:
    catalogue: Catalogue
    prices: Prices
    clock: Clock
    proposals: ProposalStore
    customers: CustomerRecords
    balances: LedgerBalances
    disclosures: DisclosureLog
    transfers: TransferPolicy
    policy: RebalancePolicy = DEFAULT_POLICY

    # ---- operations ---------------------------------------------------------------------------------

    def risk_questionnaire(self, caller: Recipient, version: str | None = None) -> Questionnaire:
        """The questionnaire for white-label advice (the current version by default)."""
        _requires_app_token(caller)
        return questionnaire(version or QUESTIONNAIRE_VERSION)

    def score_answers(
        self, caller: Recipient, answers: Mapping[str, str], version: str = QUESTIONNAIRE_VERSION
    ) -> RiskAssessment:
        """A white-label client's answers scored into a risk level; anonymous and not stored."""
        _requires_app_token(caller)
        return score(answers, version)

    def propose_for_customer(self, caller: Recipient, model_id: str | None = None) -> Proposal:
        """A proposal for the customer behind the consent, from the customer's profile and ledger."""
        customer = customer_behind(caller.consent, self.customers, refusal=NO_CUSTOMER)
        decisions = self._transfer_decisions(customer, caller)
        profile = InvestorProfile.of_customer(customer)
        model = self._model(model_id, profile)
        holdings, cash = self._portfolio(customer, profile.market)
        try:
            proposal = propose(
                profile,
                holdings,
                cash,
                self.catalogue,
                self.prices,
                self.clock.now(),
                model=model,
                policy=self.policy,
            )
        except UnsuitableProposalError as exc:
            raise _unsuitable(exc, field=None if model is None else "model_id") from None
        self.proposals.add(caller.partner_id, caller.client_id, customer.id, proposal)
        self._log_disclosure(caller, proposal, decisions)
        return proposal

    def customer_proposal(self, caller: Recipient, proposal_id: str) -> Proposal:
        """A proposal this partner made for the customer behind the consent."""
        customer = customer_behind(caller.consent, self.customers, refusal=NO_CUSTOMER)
        decisions = self._transfer_decisions(customer, caller)
        proposal = self.proposals.get(proposal_id, caller.partner_id, customer.id)
        if proposal is None:
            raise NotFoundError("no such proposal")
        self._log_disclosure(caller, proposal, decisions)
        return proposal

    def propose_white_label(self, caller: Recipient, request: AnonymousProfile) -> Proposal:
        """Rule PR-11: a proposal for a partner's own client, kept for that partner."""
        _requires_app_token(caller)
        try:
            proposal = propose_anonymous(
                request, self.catalogue, self.prices, self.clock.now(), policy=self.policy
            )
        except UnsuitableProposalError as exc:
            raise _unsuitable(exc) from None
        self.proposals.add(caller.partner_id, caller.client_id, None, proposal)
        return proposal

    def white_label_proposal(self, caller: Recipient, proposal_id: str) -> Proposal:
        """A white-label proposal this partner made."""
        _requires_app_token(caller)
        proposal = self.proposals.get(proposal_id, caller.partner_id, None)
        if proposal is None:
            raise NotFoundError("no such proposal")
        return proposal

    # ---- parts ------------------------------------------------------------------------------------

    def _transfer_decisions(self, customer: Customer, caller: Recipient) -> tuple[PolicyDecision, ...]:
        """The cross-border policy for each category a proposal carries; any refusal refuses the proposal."""
        # A proposal cannot be masked field by field (its trades and weights give the positions away), so
        # a category that may not leave in clear, denied or masked, refuses the whole proposal: a 403
        # problem naming the rules.
        permitted = caller.consent is not None and caller.consent.cross_border
        region = caller.partner_region
        decisions = tuple(
            self.transfers(customer.residency, region, category, permitted)
            for category in PROPOSAL_CATEGORIES
        )
        refused = [
            {"category": str(category), "outcome": d.outcome.value, "rule_id": d.rule_id, "reason": d.reason}
            for category, d in zip(PROPOSAL_CATEGORIES, decisions, strict=True)
            if d.outcome is not Outcome.ALLOW
        ]
        if refused:
            raise ForbiddenError(
                "the customer's data may not go to the partner's region for this proposal",
                partner_region=region,
                refused=refused,
            )
        return decisions

    def _log_disclosure(
        self, caller: Recipient, proposal: Proposal, decisions: Sequence[PolicyDecision]
    ) -> None:
        """Who received which customer's proposal, when, under which consent (the customer's dashboard)."""
        resource = f"/v1/advisory/proposals/{proposal.id}"
        disclosure = Disclosure(
            resource=resource,
            categories=frozenset(PROPOSAL_CATEGORIES),
            fields=PROPOSAL_FIELDS,
            masked=(),
            withheld=(),
            decisions=tuple(decisions),
        )
        self.disclosures.add_disclosure(DisclosureRecord.of(caller, resource, disclosure, self.clock.now()))

    def _model(self, model_id: str | None, profile: InvestorProfile) -> ModelPortfolio | None:
        """The model the caller asked for (PR-01); None: the one of the profile's own risk level."""
        if model_id is None:
            return None
        _, market, level, *variant = model_id.split(
            "_"
        )  # the schema's pattern: mdl_<market>_<level>[_shariah]
        model = build_model(
            self.catalogue, RiskLevel[level.upper()], Market(market.upper()), shariah=bool(variant)
        )
        if model.market is not profile.market:
            raise InvalidProposalError(
                f"the model is for the {model.market} market, the customer's home market is {profile.market}",
                field="model_id",
                model_id=model_id,
            )
        return model

    def _portfolio(self, customer: Customer, market: Market) -> tuple[tuple[CurrentHolding, ...], Money]:
        """The customer's positions and investable cash, from the ledger.

        - Positions: every units balance of every account of the customer, one holding per instrument,
          at its total quantity (units held for a live sell order are still owned), valued at the
          reference price (or latest NAV) now, in the instrument's currency, rounded half up to the cent
          like a customer holding. Advice reviews other markets' positions without weighing them (PR-04),
          so nothing is converted.
        - Cash: the available (not held for live orders) balance in the home market's currency of the
          account that trades the home market: the master account for CN, HK and US residents, the US
          sub-account for EU residents (MP-02). Cash in other currencies would need an FX trade that the
          proposal does not suggest, so it is not counted.
        """
        accounts = [account.id for account in customer.accounts]
        balances = self.balances.balances(accounts)
        quantities: dict[str, Decimal] = {}
        for (_, asset), balance in sorted(balances.items()):
            if asset.startswith("units:") and balance.total > 0:
                instrument_id = asset.removeprefix("units:")
                quantities[instrument_id] = quantities.get(instrument_id, Decimal(0)) + balance.total
        now = self.clock.now()
        holdings: list[CurrentHolding] = []
        for instrument_id, quantity in sorted(quantities.items()):
            instrument = self.catalogue.get(instrument_id)
            price = self.prices.reference_price(instrument, now)
            value = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
            holdings.append(CurrentHolding(instrument_id, quantity, Money(value, instrument.currency)))
        currency = MARKET_CURRENCY[market]
        trading = next((a for a in customer.accounts if a.jurisdiction.value == market.value), None)
        cash = Decimal(0)
        if trading is not None:
            balance = balances.get((trading.id, ledger.cash(currency)), ledger.EMPTY)
            cash = max(balance.available, Decimal(0))
        return tuple(holdings), Money(cash, currency)


def _requires_app_token(caller: Recipient) -> None:
    """White-label advice is the partner's own business: a customer's delegated token may not use it."""
    if caller.consent is not None:
        raise ForbiddenError(
            "white-label advisory uses the app's client-credentials token, not a customer's token"
        )


def _unsuitable(exc: UnsuitableProposalError, *, field: str | None = None) -> UnsuitableProposalError:
    """The same refusal with its per-product reasons as a list, and `field` naming the wire field."""
    # `problems.py` publishes a context member that is not a JSON scalar or list as its `str`.
    context = dict(exc.context)
    if field is not None:
        context["field"] = field
    reasons = context.pop("reasons", {})
    if isinstance(reasons, Mapping):
        context["reasons"] = [
            {"instrument_id": str(instrument_id), "codes": list(codes)}
            for instrument_id, codes in sorted(reasons.items())
        ]
    return UnsuitableProposalError(exc.detail, **context)
