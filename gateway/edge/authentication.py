"""One authentication middleware for every route: the JWT verified once and cached, its DPoP
proof (if bound) checked on every request, then audience, revocation, client status and the
route's declared scopes (RFC 6750, RFC 9068, RFC 9449)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.auth.dpop import DPoPProofError, DPoPVerifier
from gateway.auth.dpop_nonces import DPoPNonces
from gateway.auth.revocation import RevocationList
from gateway.auth.tokens import AccessToken, InvalidTokenError, TokenService
from gateway.domain.environment import Environment
from gateway.edge.access import Access, Audience, access_of
from gateway.edge.consent_gate import ConsentGate, ConsentRefusedError
from gateway.edge.principal import Principal
from partners.models import Client

TOKEN_CACHE_SIZE: Final = 50_000
CLIENT_CACHE_SECONDS: Final = 10.0


class EnvironmentAuth:
    """What the middleware needs per environment."""

    def __init__(
        self,
        tokens: TokenService,
        revocations: RevocationList,
        dpop: DPoPVerifier,
        consents: ConsentGate,
        nonces: DPoPNonces | None = None,
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.dpop = dpop
        self.consents = consents
        self.nonces = nonces  # None: proofs need no server nonce
        self.cache: dict[str, AccessToken] = {}

    def verify(self, value: str) -> AccessToken:
        token = self.cache.get(value)
        if token is None:
            token = self.tokens.verify(value)  # signature checks are the hot path's main CPU cost
            if len(self.cache) >= TOKEN_CACHE_SIZE:
                self.cache.clear()
            self.cache[value] = token
        elif token.expires_at <= int(self.tokens.clock.now().timestamp()):
            del self.cache[value]
            raise InvalidTokenError("the access token has expired")
        return token

    def audience(self, audience: Audience) -> str:
        return self.tokens.admin_audience if audience is Audience.ADMIN else self.tokens.api_audience


class ClientCache:
    """Registry reads are cached per worker for a few seconds, active clients only: a suspension
    bites within `CLIENT_CACHE_SECONDS` (at once in the worker that made it), a reactivation at once."""

    def __init__(self, lookup: Callable[[str], Client | None]) -> None:
        self._lookup = lookup
        self._entries: dict[str, tuple[float, Client]] = {}

    def get(self, client_id: str) -> Client | None:
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] >= now:
            return entry[1]
        client = self._lookup(client_id)
        if client is None or not client.active:
            self._entries.pop(client_id, None)
            return client
        if len(self._entries) >= TOKEN_CACHE_SIZE:
            self._entries.clear()
        self._entries[client_id] = (now + CLIENT_CACHE_SECONDS, client)
        return client

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)


def _challenge(error: str, description: str, *, scope: str | None = None) -> dict[str, str]:
    # RFC 6750 §3: the challenge names the error; descriptions must not contain quotes.
    clean = description.replace('"', "")
    value = f'Bearer realm="open-platform", error="{error}", error_description="{clean}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def unauthorized(description: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=description, headers=_challenge("invalid_token", description))


def dpop_unauthorized(
    error: str, description: str, algs: tuple[str, ...], *, nonce: str | None = None
) -> NotAuthorizedException:
    """RFC 9449 §7.1: a DPoP challenge naming the error and the proof algorithms accepted; with
    `use_dpop_nonce`, the nonce to use (§9)."""
    clean = description.replace('"', "")
    value = f'DPoP error="{error}", error_description="{clean}", algs="{" ".join(algs)}"'
    headers = {"WWW-Authenticate": value} | ({"DPoP-Nonce": nonce} if nonce is not None else {})
    return NotAuthorizedException(detail=description, headers=headers)


class AuthenticationMiddleware:
    def __init__(
        self, app: ASGIApp, *, environments: dict[Environment, EnvironmentAuth], clients: ClientCache
    ) -> None:
        self.app = app
        self.environments = environments
        self.clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: Any = scope["route_handler"]
        access = access_of(handler)
        if access is None and handler.http_methods == {"OPTIONS"}:
            await _answer_options(scope, send)
            return
        if access is None:
            raise PermissionDeniedException(detail="this route declares no access policy")
        state: dict[str, Any] = scope["state"]
        environment: Environment = state["environment"]
        if access.audience is Audience.ADMIN and environment is not Environment.PRODUCTION:
            raise NotFoundException()  # staff APIs are control plane: production only
        if not access.public:
            state["principal"] = self.authenticate(scope, access, environment)
        await self.app(scope, receive, send)

    def authenticate(self, scope: Scope, access: Access, environment: Environment) -> Principal:
        if b"access_token=" in scope.get("query_string", b""):
            # RFC 9700 §2.5 / FAPI 2.0: tokens never travel in URLs.
            raise NotAuthorizedException(
                detail="access tokens in the query string are refused; use the Authorization header",
                headers=_challenge("invalid_request", "token in query string"),
            )
        scheme, value = _credentials(scope)
        auth = self.environments[environment]
        try:
            token = auth.verify(value)
        except InvalidTokenError as exc:
            if scheme == DPOP:
                raise dpop_unauthorized("invalid_token", str(exc), auth.dpop.algorithms) from exc
            raise unauthorized(str(exc)) from exc
        if token.jkt is not None or scheme == DPOP:
            self.check_proof(scope, auth, scheme, value, token)
        if auth.audience(access.audience) not in token.audience:
            raise unauthorized("the access token is not meant for this API (aud)")
        if auth.revocations.is_revoked(token.jti):
            raise unauthorized("the access token was revoked")
        client = self.clients.get(token.client_id)
        if client is None or not client.active:
            raise unauthorized("the client is unknown, disabled or suspended")
        missing = access.scopes - token.scopes
        if missing:
            needed = " ".join(sorted(access.scopes))
            raise PermissionDeniedException(
                detail=f"the access token lacks the scope this operation needs: {needed}",
                headers=_challenge("insufficient_scope", "missing scope", scope=needed),
            )
        consent = None
        if token.consent_id is not None:
            try:  # consent status, expiry and scope: on every call (ARCHITECTURE.md, the edge)
                consent = auth.consents.check(token, access.scopes)
            except ConsentRefusedError as exc:
                if exc.insufficient_scope:
                    needed = " ".join(sorted(access.scopes))
                    raise PermissionDeniedException(
                        detail=str(exc), headers=_challenge("insufficient_scope", str(exc), scope=needed)
                    ) from exc
                if token.jkt is not None:
                    raise dpop_unauthorized("invalid_token", str(exc), auth.dpop.algorithms) from exc
                raise unauthorized(str(exc)) from exc
        return Principal(client=client, token=token, environment=environment, consent=consent)

    @staticmethod
    def check_proof(scope: Scope, auth: EnvironmentAuth, scheme: str, value: str, token: AccessToken) -> None:
        """RFC 9449 §7: a DPoP-bound token needs the DPoP scheme and a fresh proof by its key."""
        algs = auth.dpop.algorithms
        if token.jkt is None:  # a bearer token: its challenge is the Bearer one
            raise unauthorized("this access token is not DPoP-bound; use the Bearer scheme")
        if scheme != DPOP:
            raise dpop_unauthorized("invalid_token", "a DPoP-bound token needs the DPoP scheme", algs)
        proofs = [raw for name, raw in scope["headers"] if name == b"dpop"]
        if len(proofs) != 1:
            raise dpop_unauthorized("invalid_dpop_proof", "send exactly one DPoP proof header", algs)
        url = f"{auth.tokens.issuer}{scope['path']}"  # the public URL (the sandbox prefix included)
        http: Any = scope  # an HTTP scope: only HTTP routes reach authentication
        accepted = auth.nonces.accepted() if auth.nonces is not None else None
        try:
            proof = auth.dpop.verify(
                proofs[0].decode("latin-1"),
                method=http["method"],
                url=url,
                access_token=value,
                nonce=accepted,
            )
        except DPoPProofError as exc:
            nonce = (
                auth.nonces.current() if auth.nonces is not None and exc.error == "use_dpop_nonce" else None
            )
            raise dpop_unauthorized(exc.error, exc.description, algs, nonce=nonce) from exc
        if proof.jkt != token.jkt:
            raise dpop_unauthorized("invalid_token", "the DPoP proof key does not match cnf.jkt", algs)


BEARER: Final = "bearer"
DPOP: Final = "dpop"


def _credentials(scope: Scope) -> tuple[str, str]:
    """The Authorization header's scheme (lower-case: bearer or dpop) and token."""
    for name, raw in scope["headers"]:
        if name == b"authorization":
            value = raw.decode("latin-1")
            scheme, _, token = value.partition(" ")
            scheme = scheme.lower()
            if scheme not in (BEARER, DPOP) or not token.strip():
                raise unauthorized("use the Bearer or DPoP authorization scheme")
            return scheme, token.strip()
    raise NotAuthorizedException(
        detail="this operation needs an access token",
        headers={"WWW-Authenticate": 'Bearer realm="open-platform"'},
    )


async def _answer_options(scope: Scope, send: Send) -> None:
    """Answer OPTIONS with every method of the path (Litestar 2's generated answer omits some)."""
    app: Any = scope["app"]
    template = scope.get("path_template", scope["path"])
    methods: dict[str, str] = app.state.setdefault("allowed_methods", {})
    if not methods:
        for route in app.routes:
            allowed = ", ".join(sorted(getattr(route, "methods", ())))
            methods[route.path] = methods[route.path_format] = allowed
    allow = methods.get(template, "OPTIONS")
    await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode())]})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
