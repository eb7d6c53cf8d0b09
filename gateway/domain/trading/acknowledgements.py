"""Acknowledgement tokens: proof that a preview showed these disclosures to this customer.

A preview that needs an acknowledgement returns a token naming the disclosures, the customer, the
app, the instrument and the side, signed with HMAC-SHA256 and valid for 10 minutes. Placing the
order with the token counts as the customer's acknowledgement of exactly those disclosures; a token
for another customer, app, instrument or side, or an expired or altered one, acknowledges nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.domain.trading.errors import InvalidOrderError

TOKEN_LIFETIME: Final = timedelta(minutes=10)
_PREFIX: Final = "ack1."


@dataclass(frozen=True, slots=True)
class AcknowledgementScope:
    customer_id: str
    client_id: str
    instrument_id: str
    side: str


class AcknowledgementSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the acknowledgement secret needs at least 32 bytes")
        self._secret = secret

    def issue(self, scope: AcknowledgementScope, disclosures: tuple[str, ...], now: datetime) -> str:
        claims = {
            "sub": scope.customer_id,
            "cid": scope.client_id,
            "ins": scope.instrument_id,
            "side": scope.side,
            "ack": sorted(disclosures),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
        }
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{_PREFIX}{body}.{_b64(self._sign(body))}"

    def verify(self, token: str, scope: AcknowledgementScope, now: datetime) -> frozenset[str]:
        """The acknowledged disclosure codes; a token that does not fit is refused, naming the field."""
        if not token.startswith(_PREFIX) or token.count(".") != 2:
            raise _invalid("the acknowledgement token is malformed")
        body, signature = token[len(_PREFIX) :].split(".")
        try:
            valid = hmac.compare_digest(_unb64(signature), self._sign(body))
            claims = json.loads(_unb64(body)) if valid else None
        except (binascii.Error, ValueError):
            raise _invalid("the acknowledgement token is malformed") from None
        if not isinstance(claims, dict):
            raise _invalid("the acknowledgement token is not ours")
        expected = [scope.customer_id, scope.client_id, scope.instrument_id, scope.side]
        if [claims.get("sub"), claims.get("cid"), claims.get("ins"), claims.get("side")] != expected:
            raise _invalid("the acknowledgement token belongs to another order")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
            raise _invalid("the acknowledgement token has expired; preview the order again")
        return frozenset(str(code) for code in claims.get("ack", []))

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def _invalid(detail: str) -> InvalidOrderError:
    return InvalidOrderError(detail, field="acknowledgement_token")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
