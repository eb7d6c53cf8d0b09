"""The authorization server: authlib's framework-agnostic core with our client authentication,
token format and endpoints. authlib's core is synchronous; every call here is CPU-bound or a
sub-millisecond read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer as AuthlibServer,
)
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidScopeError,
    OAuth2Request,
    UnauthorizedClientError,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, ClientCredentialsGrant
from authlib.oauth2.rfc6749.grants.base import TokenEndpointMixin
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from gateway.auth.client_auth import ASSERTION_ALGORITHMS, ClientAssertionError, ClientAssertionVerifier
from gateway.auth.delegation import REFRESH_TOKEN_PREFIX, Delegation, InvalidDPoPBindingError
from gateway.auth.dpop import DPoPVerifier
from gateway.auth.dpop_nonces import DPoPNonces
from gateway.auth.revocation import RevocationList
from gateway.auth.tokens import AccessToken, InvalidTokenError, TokenService
from gateway.domain.scopes import CUSTOMER_DELEGATED, PARTNER_OWN, STAFF, parse_scopes
from partners.models import Client

AUTH_METHOD = "private_key_jwt"


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth 2.0 request whose parameters came from an `application/x-www-form-urlencoded` body."""

    def __init__(
        self,
        method: str,
        uri: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        *,
        dpop_jkt: str | None = None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self.dpop_jkt = dpop_jkt  # the verified DPoP proof's key: the token is bound to it
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """authlib's view of a registered app: confidential, `private_key_jwt`, client credentials."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.client_id = client.app.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(sorted(parse_scopes(scope or "") & self.grantable()))

    def grantable(self) -> frozenset[str]:
        return frozenset(self.client.app.scopes) & (PARTNER_OWN | STAFF)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return bool(method == AUTH_METHOD)

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return True
        # The code flow needs a registered redirect URI and something a customer can delegate.
        delegating = bool(self.client.app.redirect_uris) and bool(self.client.app.scopes & CUSTOMER_DELEGATED)
        return delegating and grant_type in ("authorization_code", "refresh_token")


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        server: AuthorizationServer = self.server
        if self.request.dpop_jkt is None and server.delegation.dpop_required:
            # Production apps hold sender-constrained tokens only (FAPI 2.0 §5.3.2.1; RFC 9449).
            raise InvalidDPoPBindingError(description="production apps must send a DPoP proof (RFC 9449)")

    def validate_requested_scope(self) -> None:
        requested = parse_scopes(self.request.payload.scope or "")
        refused = requested - self.request.client.grantable()
        if refused:
            raise InvalidScopeError(description=f"not granted to this client: {' '.join(sorted(refused))}")

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        server: AuthorizationServer = self.server
        return server.issue(self.request.client, scope, jkt=self.request.dpop_jkt)


class _DelegatedGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    """A grant whose rules live in `Delegation`; authlib authenticates the client and answers."""

    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(description=f"this client may not use {self.GRANT_TYPE}")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        server: AuthorizationServer = self.server
        delegation = server.delegation
        grant = delegation.redeem if self.GRANT_TYPE == "authorization_code" else delegation.refresh
        token = grant(self.request.client.client, self.request.form, self.request.dpop_jkt)
        return 200, token, [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class AuthorizationCodeGrant(_DelegatedGrant):
    GRANT_TYPE = "authorization_code"


class RefreshTokenGrant(_DelegatedGrant):
    GRANT_TYPE = "refresh_token"


class IssuedToken:
    """authlib's token model for introspection and revocation, over a verified JWT."""

    def __init__(self, token: AccessToken, revocations: RevocationList, now: int) -> None:
        self.token = token
        self._revocations = revocations
        self._now = now

    def check_client(self, client: OAuthClient) -> bool:
        return self.token.client_id == client.client_id

    def get_scope(self) -> str:
        return " ".join(sorted(self.token.scopes))

    def get_expires_in(self) -> int:
        return self.token.expires_at - self.token.issued_at

    def is_expired(self) -> bool:
        return self.token.expires_at <= self._now

    def is_revoked(self) -> bool:
        return self._revocations.is_revoked(self.token.jti)


class _TokenQuery:
    server: AuthorizationServer
    SUPPORTED_TOKEN_TYPES: tuple[str, ...] = ("access_token",)
    CLIENT_AUTH_METHODS = [AUTH_METHOD]

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.server.find_token(token_string)

    def authenticate_endpoint_client(self, request: Any) -> OAuthClient:
        try:
            client: OAuthClient = super().authenticate_endpoint_client(request)  # type: ignore[misc]
        except InvalidClientError as exc:
            exc.status_code = 401  # RFC 7662 §2.3 and RFC 7009 §2.2.1: a failed client is a 401
            raise
        return client

    def check_params(self, request: Any, client: OAuthClient) -> None:
        try:
            super().check_params(request, client)  # type: ignore[misc]
        except UnsupportedTokenTypeError as exc:
            exc.status_code = 400  # an RFC 6749 §5.2 error like any other request error
            raise


class Introspection(_TokenQuery, IntrospectionEndpoint):  # type: ignore[misc]
    def check_permission(self, token: IssuedToken, client: OAuthClient, request: Any) -> bool:
        # A client may introspect only its own tokens: nothing about other partners leaks.
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        claims = token.token.claims(self.server.tokens.issuer)
        token_type = "Bearer" if token.token.jkt is None else "DPoP"  # RFC 9449 §6.2
        return {"active": True, "token_type": token_type, **claims}


class IssuedRefreshToken:
    """A refresh token presented at the revocation endpoint (RFC 7009 §2.1)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def check_client(self, client: OAuthClient) -> bool:
        return True  # Delegation.revoke_refresh_token checks ownership without telling


class Revocation(_TokenQuery, RevocationEndpoint):  # type: ignore[misc]
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        if token_string.startswith(REFRESH_TOKEN_PREFIX):
            return IssuedRefreshToken(token_string)
        return self.server.find_token(token_string)

    def revoke_token(self, token: IssuedToken | IssuedRefreshToken, request: Any) -> None:
        if isinstance(token, IssuedRefreshToken):
            self.server.delegation.revoke_refresh_token(request.client.client, token.value)
            return
        self.server.revocations.revoke(
            jti=token.token.jti,
            client_id=token.token.client_id,
            expires_at=datetime.fromtimestamp(token.token.expires_at, UTC),
        )


class AuthorizationServer(AuthlibServer):  # type: ignore[misc]
    def __init__(
        self,
        *,
        tokens: TokenService,
        assertions: ClientAssertionVerifier,
        revocations: RevocationList,
        dpop: DPoPVerifier,
        delegation: Delegation,
        dpop_nonces: DPoPNonces | None = None,
    ) -> None:
        super().__init__(scopes_supported=sorted(PARTNER_OWN | STAFF | CUSTOMER_DELEGATED))
        self.tokens = tokens
        self.dpop = dpop
        self.assertions = assertions
        self.revocations = revocations
        self.delegation = delegation
        self.dpop_nonces = dpop_nonces  # None: nonces are not required
        self.register_grant(ClientCredentials)
        self.register_grant(AuthorizationCodeGrant)
        self.register_grant(RefreshTokenGrant)
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method(AUTH_METHOD, self._authenticate_client)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    # authlib hooks -----------------------------------------------------------------------------
    def query_client(self, client_id: str) -> OAuthClient | None:
        client = self.assertions.lookup(client_id)
        return OAuthClient(client) if client is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """JWT access tokens are self-contained; issuance is recorded by the audit log."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal subscribers: metering and audit run in the edge pipeline."""

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    # ours --------------------------------------------------------------------------------------
    def authenticate(self, request: FormRequest) -> Client:
        """Client authentication for our own endpoints (PAR): the token endpoint's rules."""
        client: OAuthClient = self.authenticate_client(request, [AUTH_METHOD], endpoint="par")
        return client.client

    def _authenticate_client(self, query_client: Any, request: FormRequest) -> OAuthClient:
        try:
            client = self.assertions.verify(request.form)
        except ClientAssertionError as exc:
            raise InvalidClientError(description=str(exc)) from exc
        return OAuthClient(client)

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        return self.issue(client, scope)

    def issue(self, client: OAuthClient, scope: str | None, *, jkt: str | None = None) -> dict[str, Any]:
        """An access token response; with `jkt`, a DPoP-bound token (RFC 9449 §5 and §6.1)."""
        scopes = parse_scopes(scope) if scope else client.grantable()
        audience = self.tokens.admin_audience if client.client.partner.operator else self.tokens.api_audience
        value, token = self.tokens.issue(
            client_id=client.client_id, subject=client.client_id, scopes=scopes, audience=audience, jkt=jkt
        )
        return {
            "access_token": value,
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": token.expires_at - token.issued_at,
            "scope": " ".join(sorted(scopes)),
        }

    def find_token(self, value: str) -> IssuedToken | None:
        try:
            token = self.tokens.verify_signature(value)
        except InvalidTokenError:
            return None
        return IssuedToken(token, self.revocations, int(self.tokens.clock.now().timestamp()))

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 metadata: exactly what this server supports, nothing more."""
        issuer = self.tokens.issuer
        auth_methods = [AUTH_METHOD]
        algs = list(ASSERTION_ALGORITHMS)
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth2/token",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "introspection_endpoint": f"{issuer}/oauth2/introspect",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "pushed_authorization_request_endpoint": f"{issuer}/oauth2/par",
            "require_pushed_authorization_requests": True,
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "scopes_supported": sorted(PARTNER_OWN | CUSTOMER_DELEGATED),
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "access_token_signing_alg_values_supported": ["ES256"],
            "dpop_signing_alg_values_supported": list(self.dpop.algorithms),
            "service_documentation": f"{issuer}/docs",
        }
