"""OAuth endpoints per environment: token, JWKS, metadata, introspection, revocation.

They keep RFC 6749 §5.2 error bodies (`{"error": ...}`) rather than problem+json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error
from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.types import ExceptionHandlersMap

from gateway.apis.schemas import PUBLIC_PROBLEMS, problem_response_spec
from gateway.auth.client_auth import ASSERTION_TYPE
from gateway.auth.dpop import DPoPProofError
from gateway.auth.keys import KeyRing
from gateway.auth.server import AuthorizationServer, FormRequest
from gateway.edge.access import public

FORM: Final = "application/x-www-form-urlencoded"
AuthServerDep = NamedDependency[AuthorizationServer]
IssuerDep = NamedDependency[str]
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None  # the authorization code grant only


class PushedAuthorizationResponse(msgspec.Struct, frozen=True, kw_only=True):
    request_uri: str
    expires_in: int


class OAuthError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    error: str
    error_description: str | None = None


# The form bodies the handlers read themselves (so Litestar cannot infer them). They stay open,
# as RFC 6749 §3.2 has unrecognised parameters ignored, but every parameter is one string: §3.2
# also refuses a parameter sent twice.
ANY_PARAMETER: Final = Schema(type=OpenAPIType.STRING)
CLIENT_AUTHENTICATION: Final = {
    "client_assertion_type": Schema(type=OpenAPIType.STRING, enum=[ASSERTION_TYPE]),
    "client_assertion": Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        description="A JWT signed with the app's registered key (private_key_jwt, RFC 7523 §2.2)",
    ),
    "client_id": Schema(type=OpenAPIType.STRING, description="Optional; the assertion's iss and sub"),
}
TOKEN_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    title="TokenForm",
    properties={
        "grant_type": Schema(
            type=OpenAPIType.STRING, enum=["authorization_code", "client_credentials", "refresh_token"]
        ),
        **CLIENT_AUTHENTICATION,
        "scope": Schema(type=OpenAPIType.STRING, description="Space-separated scopes (RFC 6749 §3.3)"),
        "code": Schema(
            type=OpenAPIType.STRING, description="authorization_code: the code (single use, 60 s)"
        ),
        "redirect_uri": Schema(type=OpenAPIType.STRING, description="authorization_code: as in the request"),
        "code_verifier": Schema(type=OpenAPIType.STRING, description="authorization_code: PKCE (RFC 7636)"),
        "refresh_token": Schema(type=OpenAPIType.STRING, description="refresh_token: the refresh token"),
    },
    required=["client_assertion", "client_assertion_type", "grant_type"],
    additional_properties=ANY_PARAMETER,
)
PAR_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    title="PushedAuthorizationForm",
    properties={
        **CLIENT_AUTHENTICATION,
        "response_type": Schema(type=OpenAPIType.STRING, enum=["code"]),
        "redirect_uri": Schema(type=OpenAPIType.STRING, description="Exactly as registered"),
        "code_challenge": Schema(type=OpenAPIType.STRING, min_length=43, max_length=43),
        "code_challenge_method": Schema(type=OpenAPIType.STRING, enum=["S256"]),
        "consent_id": Schema(type=OpenAPIType.STRING, description="The consent created with createConsent"),
        "scope": Schema(type=OpenAPIType.STRING, description="Optional; within the consent's permissions"),
        "state": Schema(type=OpenAPIType.STRING, max_length=500),
        "dpop_jkt": Schema(type=OpenAPIType.STRING, description="RFC 9449 §10: bind the code to this key"),
    },
    required=[
        "client_assertion",
        "client_assertion_type",
        "response_type",
        "redirect_uri",
        "code_challenge",
        "code_challenge_method",
        "consent_id",
    ],
    additional_properties=ANY_PARAMETER,
)
TOKEN_QUERY_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    title="TokenQueryForm",
    properties={
        "token": Schema(type=OpenAPIType.STRING, min_length=1),
        "token_type_hint": Schema(type=OpenAPIType.STRING, enum=["access_token", "refresh_token"]),
        **CLIENT_AUTHENTICATION,
    },
    required=["client_assertion", "client_assertion_type", "token"],
    additional_properties=ANY_PARAMETER,
)


def _form_operation(schema: Schema) -> type[Operation]:
    """An operation that documents the form body its handler reads from the request itself."""

    @dataclass
    class FormOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(content={FORM: OpenAPIMediaType(schema=schema)}, required=True)

    return FormOperation


class Confirmation(msgspec.Struct, frozen=True, kw_only=True):
    jkt: str  # RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to


class Introspection(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    active: bool
    token_type: str | None = None
    iss: str | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    client_id: str | None = None
    scope: str | None = None
    iat: int | None = None
    exp: int | None = None
    jti: str | None = None
    env: str | None = None
    cnf: Confirmation | None = None


class JsonWebKeySet(msgspec.Struct, frozen=True):
    keys: list[dict[str, Any]]


class RepeatedParameterError(Exception):
    """RFC 6749 §3.2: request parameters must not be included more than once."""


def _invalid_request(request: Request[Any, Any, Any], exc: RepeatedParameterError) -> Response[Any]:
    return _answer(400, OAuthError(error="invalid_request", error_description=str(exc)))


# RFC 6749 §5.2 bodies, like every other refusal of these endpoints.
OAUTH_ERROR_HANDLERS: Final[ExceptionHandlersMap] = {RepeatedParameterError: _invalid_request}


def _oauth_errors(*statuses: int) -> dict[int, ResponseSpec]:
    specs = {
        s: ResponseSpec(data_container=OAuthError, description="RFC 6749 §5.2 error", generate_examples=False)
        for s in statuses
    }
    problems = {s: spec for s, spec in PUBLIC_PROBLEMS.items() if s == 413}
    problems[415] = problem_response_spec("Not a form")
    return {**problems, **specs}


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM):
        raise ClientException(status_code=415, detail=f"send {FORM}")
    form: FormMultiDict = await request.form()
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if key in values:
            raise RepeatedParameterError(f"parameter {key} is repeated")
        values[key] = str(value)
    return values


def _dpop_jkt(server: AuthorizationServer, request: Request[Any, Any, Any], uri: str) -> str | None:
    """The key a `DPoP` proof (RFC 9449 §5) binds the token to; None when the client sent none."""
    proofs = request.headers.getall("dpop", [])
    if not proofs:
        return None
    if len(proofs) > 1:
        raise DPoPProofError("invalid_dpop_proof", "send exactly one DPoP header")
    nonces = server.dpop_nonces
    accepted = nonces.accepted() if nonces is not None else None
    return server.dpop.verify(proofs[0], method="POST", url=uri, nonce=accepted).jkt


def _nonce_header(server: AuthorizationServer) -> dict[str, str]:
    """RFC 9449 §8.2: the nonce to use next, on every answer of an endpoint that requires one."""
    nonces = server.dpop_nonces
    return {"DPoP-Nonce": nonces.current()} if nonces is not None else {}


def _answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[Any]:
    """An OAuth endpoint's JSON answer: never cached (RFC 6749 §5.1)."""
    return Response(
        content=body,
        status_code=status,
        headers={**(headers or {}), **NO_STORE},
        media_type="application/json",
    )


def _dpop_refusal(server: AuthorizationServer, exc: DPoPProofError) -> Response[Any]:
    body = OAuthError(error=exc.error, error_description=exc.description)
    clean = exc.description.replace('"', "")
    challenge = f'DPoP error="{exc.error}", error_description="{clean}"'
    return _answer(400, body, {"WWW-Authenticate": challenge, **_nonce_header(server)})


def _oauth_request(
    server: AuthorizationServer,
    issuer: str,
    request: Request[Any, Any, Any],
    form: dict[str, str],
    *,
    bind: bool,
) -> FormRequest:
    """The request for authlib; with `bind`, the key of its DPoP proof (RFC 9449 §5, §10), which
    raises DPoPProofError for a bad proof."""
    uri = f"{issuer}{request.url.path}"
    jkt = _dpop_jkt(server, request, uri) if bind else None
    return FormRequest("POST", uri, form, request.headers, dpop_jkt=jkt)


def _respond(
    server: AuthorizationServer,
    issuer: str,
    request: Request[Any, Any, Any],
    endpoint: str | None,
    form: dict[str, str],
) -> Response[Any]:
    token_endpoint = endpoint is None  # a DPoP proof there binds the token it issues
    try:
        oauth_request = _oauth_request(server, issuer, request, form, bind=token_endpoint)
    except DPoPProofError as exc:
        return _dpop_refusal(server, exc)
    if token_endpoint:
        status, body, headers = server.create_token_response(oauth_request)
    else:
        status, body, headers = server.create_endpoint_response(endpoint, oauth_request)
    return _answer(status, body, {**dict(headers), **(_nonce_header(server) if token_endpoint else {})})


@post(
    "/oauth2/token",
    operation_id="issueToken",
    operation_class=_form_operation(TOKEN_FORM),
    status_code=200,
    summary="Issue an access token (client credentials with private_key_jwt; DPoP-bound with a DPoP proof)",
    tags=["oauth"],
    responses={
        200: ResponseSpec(data_container=TokenResponse, description="Token", generate_examples=False),
        **_oauth_errors(400, 401),
    },
    exception_handlers=OAUTH_ERROR_HANDLERS,
    **public(),
)
async def issue_token(
    request: Request[Any, Any, Any], auth_server: AuthServerDep, issuer: IssuerDep
) -> Response[Any]:
    form = await _form(request)
    response = _respond(auth_server, issuer, request, None, form)
    if response.status_code == 200:
        request.scope["state"]["actor"] = form.get("client_id") or "client_assertion"
    return response


@post(
    "/oauth2/par",
    operation_id="pushAuthorizationRequest",
    operation_class=_form_operation(PAR_FORM),
    status_code=201,
    summary="Push an authorization request (RFC 9126); required before the authorization endpoint",
    tags=["oauth"],
    responses={
        201: ResponseSpec(
            data_container=PushedAuthorizationResponse, description="request_uri", generate_examples=False
        ),
        **_oauth_errors(400, 401),
    },
    exception_handlers=OAUTH_ERROR_HANDLERS,
    **public(),
)
async def push_authorization_request(
    request: Request[Any, Any, Any], auth_server: AuthServerDep, issuer: IssuerDep
) -> Response[Any]:
    form = await _form(request)
    server = auth_server
    try:
        oauth_request = _oauth_request(server, issuer, request, form, bind=True)
    except DPoPProofError as exc:
        return _dpop_refusal(server, exc)
    try:
        client = server.authenticate(oauth_request)
        body = server.delegation.push(client, form, oauth_request.dpop_jkt)
    except OAuth2Error as exc:
        if isinstance(exc, InvalidClientError):
            exc.status_code = 401  # as at introspection and revocation: a failed client is a 401
        status, error_body, headers = server.handle_error_response(oauth_request, exc)
        return _answer(status, error_body, dict(headers))
    request.scope["state"]["actor"] = client.app.client_id
    return _answer(201, body, _nonce_header(server))


@post(
    "/oauth2/introspect",
    operation_id="introspectToken",
    operation_class=_form_operation(TOKEN_QUERY_FORM),
    status_code=200,
    summary="Introspect an access token (RFC 7662)",
    tags=["oauth"],
    responses={
        200: ResponseSpec(data_container=Introspection, description="Token state", generate_examples=False),
        **_oauth_errors(400, 401),
    },
    exception_handlers=OAUTH_ERROR_HANDLERS,
    **public(),
)
async def introspect_token(
    request: Request[Any, Any, Any], auth_server: AuthServerDep, issuer: IssuerDep
) -> Response[Any]:
    return _respond(auth_server, issuer, request, "introspection", await _form(request))


@post(
    "/oauth2/revoke",
    operation_id="revokeToken",
    operation_class=_form_operation(TOKEN_QUERY_FORM),
    status_code=200,
    summary="Revoke an access token (RFC 7009)",
    tags=["oauth"],
    responses={
        200: ResponseSpec(data_container=None, description="Revoked (or unknown)", generate_examples=False),
        **_oauth_errors(400, 401),
    },
    exception_handlers=OAUTH_ERROR_HANDLERS,
    **public(),
)
async def revoke_token(
    request: Request[Any, Any, Any], auth_server: AuthServerDep, issuer: IssuerDep
) -> Response[Any]:
    form = await _form(request)
    response = _respond(auth_server, issuer, request, "revocation", form)
    if response.status_code == 200:
        request.scope["state"]["actor"] = form.get("client_id") or "client_assertion"
    return response


@get("/oauth2/jwks", operation_id="getJwks", summary="The public signing keys", tags=["oauth"], **public())
async def jwks(keys: NamedDependency[KeyRing]) -> JsonWebKeySet:
    return JsonWebKeySet(keys=keys.jwks()["keys"])


@get(
    "/.well-known/oauth-authorization-server",
    operation_id="getAuthorizationServerMetadata",
    summary="Authorization server metadata (RFC 8414)",
    tags=["oauth"],
    **public(),
)
async def metadata(auth_server: AuthServerDep) -> dict[str, Any]:
    return auth_server.metadata()


ROUTES: Final = [issue_token, push_authorization_request, introspect_token, revoke_token, jwks, metadata]
