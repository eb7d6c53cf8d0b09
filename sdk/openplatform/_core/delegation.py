"""Acting for a customer: PAR with PKCE, the customer's browser, the code exchange (RFC 9126, 7636, 9207)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from openplatform._core.engine import Engine, Flow
from openplatform._core.errors import InvalidAuthorizationResponseError, OpenPlatformError
from openplatform._core.tokens import DelegatedGrant


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A pushed authorization request: send the customer to `url`, keep the rest for the callback."""

    url: str
    state: str
    code_verifier: str
    redirect_uri: str
    request_uri: str
    expires_in: int


class AuthorizationDeniedError(OpenPlatformError):
    """The customer (or the server) refused: RFC 6749 §4.1.2.1 `error` in the callback."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def push(engine: Engine, *, consent_id: str, redirect_uri: str, state: str | None, **extra: str) -> Flow:
    verifier, challenge = pkce_pair()
    state = state or secrets.token_urlsafe(16)
    form = {
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "consent_id": consent_id,
        "state": state,
        **extra,
    }
    answer: dict[str, Any] = yield from engine.oauth("/oauth2/par", form, retry=True)
    request_uri = str(answer["request_uri"])
    query = urlencode({"client_id": engine.state.client_id, "request_uri": request_uri})
    return AuthorizationRequest(
        url=f"{engine.state.url('/oauth2/authorize')}?{query}",
        state=state,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        request_uri=request_uri,
        expires_in=int(answer.get("expires_in", 60)),
    )


def code_of(callback_url: str, request: AuthorizationRequest, issuer: str) -> str:
    """The code of a callback, once it is proven to answer our request from our issuer."""
    params = dict(parse_qsl(urlsplit(callback_url).query))
    # RFC 9207 §2.4: the issuer is checked first, on errors too (mix-up attacks).
    if params.get("iss") != issuer:
        raise InvalidAuthorizationResponseError(
            f"the callback's issuer {params.get('iss')!r} is not {issuer!r} (RFC 9207)"
        )
    if not hmac.compare_digest(params.get("state", ""), request.state):
        raise InvalidAuthorizationResponseError("the callback's state does not match the request")
    if "error" in params:
        raise AuthorizationDeniedError(params["error"], params.get("error_description"))
    code = params.get("code")
    if not code:
        raise InvalidAuthorizationResponseError("the callback carries no code")
    return code


def exchange(engine: Engine, callback_url: str, request: AuthorizationRequest) -> Flow:
    code = code_of(callback_url, request, engine.state.root)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.code_verifier,
    }
    answer: dict[str, Any] = yield from engine.oauth("/oauth2/token", form, retry=False)
    return DelegatedGrant.from_response(answer, engine.state.clock())


def revoke(engine: Engine, token: str, hint: str | None) -> Flow:
    form = {"token": token} | ({"token_type_hint": hint} if hint else {})
    yield from engine.oauth("/oauth2/revoke", form, retry=True)
