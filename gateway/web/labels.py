"""How permissions, tiers and partners read to a customer (DOMAIN.md, "Permissions and consent tiers")."""

from __future__ import annotations

from typing import Final

from gateway.domain.consent.models import Tier
from gateway.domain.scopes import Scope
from partners.models import PartnerType

SCOPE_TEXT: Final[dict[Scope, tuple[str, str]]] = {
    Scope.ACCOUNTS_READ: (
        "Accounts and cash",
        "Your account list with masked account numbers and cash balances.",
    ),
    Scope.ORDERS_READ: ("See orders", "The orders you placed and their status."),
    Scope.ORDERS_WRITE: (
        "Place and cancel orders",
        "Place or cancel orders for you, within the limits below.",
    ),
    Scope.POINTS_CONVERT: (
        "Convert points into funds",
        "Turn your shopping points into fund shares, within the limits below.",
    ),
    Scope.HOLDINGS_READ: ("Holdings", "Your positions with their cost and market value."),
    Scope.PROFILE_RISK_READ: (
        "Risk level",
        "Your risk level (C1-C5) and investor class, nothing else from your profile.",
    ),
    Scope.ADVISORY_READ: ("Advice", "Proposals and rebalancing suggestions made for you."),
    Scope.ALERTS_SUBSCRIBE: ("Alerts", "Holding and risk alerts sent to the app."),
    Scope.TRANSACTIONS_READ: (
        "Full transaction history",
        "Every deposit, trade, dividend and fee on your accounts.",
    ),
    Scope.PROFILE_READ: (
        "Identity profile",
        "Your name, date of birth, nationality, residency and masked national id.",
    ),
    Scope.ANALYTICS_READ: ("Behaviour analytics", "Analytics derived from how you trade."),
}

TIER_TEXT: Final[dict[Tier, tuple[str, str]]] = {
    Tier.BASIC_TRADING: (
        "Basic trading",
        "What the app needs to show your account and act within your limits.",
    ),
    Tier.PERSONALISED: (
        "Personalised service",
        "Lets the app tailor its service to your portfolio and risk level.",
    ),
    Tier.DEEP_ANALYSIS: (
        "Deep analysis",
        "Detailed personal and behavioural data. Off unless you tick it and confirm below.",
    ),
}

PARTNER_TYPE_TEXT: Final[dict[PartnerType, str]] = {
    PartnerType.INSTITUTION: "Bank or broker",
    PartnerType.LIFESTYLE_PLATFORM: "E-commerce platform",
    PartnerType.DEVELOPER: "Independent developer",
    PartnerType.SERVICE_PROVIDER: "Service provider",
}

STATUS_TEXT: Final[dict[str, str]] = {
    "awaiting_authorization": "Waiting for you",
    "authorized": "Active",
    "rejected": "Denied",
    "revoked": "Revoked",
    "expired": "Expired",
}


def scope_label(scope: str) -> str:
    try:
        return SCOPE_TEXT[Scope(scope)][0]
    except (ValueError, KeyError):
        return scope
