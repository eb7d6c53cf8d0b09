"""Wire format of the partner's self-service: the calling app's keys, the review request."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gateway.apis.admin.lifecycle import Reason
from gateway.apis.admin.schemas import PublicJwk
from gateway.apis.schemas import RequestBody
from partners.models import Partner, PartnerStage


class AppKeysOut(msgspec.Struct, frozen=True, kw_only=True):
    """The app's public JWK Set, as the token endpoint checks client assertions against it."""

    client_id: str
    keys: list[dict[str, Any]]

    @classmethod
    def of(cls, client_id: str, jwks: dict[str, Any]) -> AppKeysOut:
        return cls(client_id=client_id, keys=[dict(key) for key in jwks.get("keys", [])])


class AppKeyIn(RequestBody):
    key: PublicJwk

    def jwk(self) -> dict[str, Any]:
        document: dict[str, Any] = msgspec.to_builtins(self.key)
        return document


class ReviewRequestIn(RequestBody):
    reason: Reason


class PartnerStageOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["partner"] = "partner"
    stage: PartnerStage

    @classmethod
    def of(cls, partner: Partner) -> PartnerStageOut:
        return cls(id=partner.id, stage=partner.stage)
