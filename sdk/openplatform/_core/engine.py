"""The one implementation of a call, shared by the sync and async clients.

Each call is a generator that yields what it needs done (send this request, sleep this long, get
a token) and receives the result; `Client` and `AsyncClient` only run those steps. So retries,
DPoP nonces, token renewal and error mapping are written once and behave the same in both.
"""

from __future__ import annotations

import random
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

import httpx
import msgspec

from openplatform._core.environment import Environment
from openplatform._core.errors import (
    APIConnectionError,
    APITimeoutError,
    GrantExpiredError,
    OAuthError,
    RequestValidationError,
    ResponseValidationError,
    error_for,
)
from openplatform._core.hooks import Hooks, RetryInfo
from openplatform._core.jose import ClientAssertionSigner, DPoPKey
from openplatform._core.operation import Operation
from openplatform._core.retries import MAX_RETRY_AFTER, RetryPolicy, retryable
from openplatform._core.tokens import DelegatedGrant, OnRefresh, Token

USER_AGENT: Final = "openplatform-python/1.0.0"


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class NeedToken:
    source: TokenSource


Step = Send | Sleep | NeedToken
Flow = Generator[Step, Any, Any]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per client or per call (`with_options`): how long to wait and how often to retry."""

    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(30.0, connect=5.0))
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class State:
    """What every view of one client shares: keys, tokens, nonces and the environment."""

    def __init__(
        self,
        *,
        client_id: str,
        signer: ClientAssertionSigner,
        dpop: DPoPKey | None,
        environment: Environment,
        root: str,
        scopes: tuple[str, ...] | None,
        hooks: Hooks,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.client_id = client_id
        self.signer = signer
        self.dpop = dpop  # None: plain bearer tokens, which only the sandbox allows
        self.environment = environment
        self.root = root  # the environment's root URL, which is also its issuer
        self.scopes = scopes
        self.hooks = hooks
        self.clock = clock
        self.rng = rng
        self.nonces: dict[str, str] = {}  # RFC 9449 §8-9: one nonce per server and role
        self.tokens: dict[str, Token] = {}
        self.warned: set[str] = set()

    def url(self, path: str) -> str:
        return self.root + path

    def nonce_key(self, url: str, role: str) -> str:
        parts = urlsplit(url)
        return f"{role} {parts.scheme}://{parts.netloc}"


class TokenSource(Protocol):
    """Where the access token of a call comes from."""

    key: str

    def cached(self, state: State) -> Token | None: ...

    def renew(self, engine: Engine) -> Flow: ...

    def forget(self, state: State) -> None: ...


class ClientCredentials:
    """The app's own token (RFC 6749 §4.4) for its scopes, authenticated by `private_key_jwt`."""

    def __init__(self, scopes: tuple[str, ...] | None) -> None:
        self.scopes = scopes
        self.key = "client " + " ".join(sorted(scopes or ()))

    def cached(self, state: State) -> Token | None:
        token = state.tokens.get(self.key)
        return token if token is not None and token.fresh(state.clock()) else None

    def renew(self, engine: Engine) -> Flow:
        form = {"grant_type": "client_credentials"}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        body = yield from engine.oauth("/oauth2/token", form, retry=True)
        token = Token.from_response(body, engine.state.clock())
        engine.state.tokens[self.key] = token
        return token

    def forget(self, state: State) -> None:
        state.tokens.pop(self.key, None)


class Delegated:
    """A customer's grant, refreshed with its refresh token when the access token runs out."""

    def __init__(self, grant: DelegatedGrant, on_refresh: OnRefresh | None) -> None:
        self.grant = grant
        self.on_refresh = on_refresh
        self.key = "grant"

    def cached(self, state: State) -> Token | None:
        token = self.grant.token
        return token if token.fresh(state.clock()) else None

    def renew(self, engine: Engine) -> Flow:
        if not self.grant.refresh_token:
            raise GrantExpiredError(
                "the customer's access token has expired and the grant has no refresh token"
            )
        grant = yield from engine.refresh(self.grant)
        self.grant = grant
        if self.on_refresh is not None:
            self.on_refresh(grant)
        return grant.token

    def forget(self, state: State) -> None:
        self.grant = replace(self.grant, expires_at=0.0)


class Engine:
    """One view of a client: the shared state plus this view's options and token source."""

    def __init__(self, state: State, options: CallOptions, source: TokenSource) -> None:
        self.state = state
        self.options = options
        self.source = source

    # -- resource calls ---------------------------------------------------------------------------

    def call(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Flow:
        """Run one operation to its final answer; returns the successful `httpx.Response`."""
        url = self.state.url(expand(operation.path, path or {}))
        content = encode_body(operation, body)
        headers = {"accept": f"{operation.media_type}, application/problem+json", "user-agent": USER_AGENT}
        if content is not None:
            headers["content-type"] = "application/json"
        if operation.unsafe:
            # One key for every attempt of this call: the server runs it at most once.
            idempotency_key = idempotency_key or str(uuid.uuid4())
            headers["idempotency-key"] = idempotency_key
        params = encode_query(query or {})
        authenticated = operation.authenticated
        failures = 0
        nonce_retried = renewed = False
        while True:
            request_headers = dict(headers)
            if authenticated:
                token: Token = yield NeedToken(self.source)
                request_headers.update(self._authorization(operation.method, url, token))
            request = httpx.Request(
                operation.method,
                url,
                params=params,
                headers=request_headers,
                content=content,
                extensions={"timeout": self.options.timeout.as_dict()},
            )
            try:
                response = yield from self._send(request, failures + 1, operation.id)
            except APIConnectionError as exc:
                failures += 1
                reason = "timeout" if isinstance(exc, APITimeoutError) else "connection"
                if failures > self.options.retry.max_retries:
                    raise
                yield from self._back_off(operation.id, failures, None, reason, idempotency_key)
                continue
            if response.status_code == 401 and authenticated:
                challenge = response.headers.get("www-authenticate", "")
                if "use_dpop_nonce" in challenge and not nonce_retried:
                    nonce_retried = True  # RFC 9449 §9: the server wants a fresh nonce in the proof
                    continue
                if "invalid_token" in challenge and not renewed:
                    renewed = True  # revoked or expired early: one new token, then give up
                    self.source.forget(self.state)
                    continue
            if response.is_success:
                self._warn_if_deprecated(operation, response)
                return response
            error = error_for(response)
            failures += 1
            if (
                retryable(response.status_code, error.problem_slug)
                and failures <= self.options.retry.max_retries
                and (error.retry_after is None or error.retry_after <= MAX_RETRY_AFTER)
            ):
                yield from self._back_off(
                    operation.id, failures, error.retry_after, str(response.status_code), idempotency_key
                )
                continue
            raise error

    def _authorization(self, method: str, url: str, token: Token) -> dict[str, str]:
        if token.token_type.lower() != "dpop" or self.state.dpop is None:
            return {"authorization": f"Bearer {token.access_token}"}
        nonce = self.state.nonces.get(self.state.nonce_key(url, "resource"))
        proof = self.state.dpop.proof(method, url, access_token=token.access_token, nonce=nonce)
        return {"authorization": f"DPoP {token.access_token}", "dpop": proof}

    def _send(
        self, request: httpx.Request, attempt: int, operation: str | None, role: str = "resource"
    ) -> Flow:
        self.state.hooks.request(request, attempt, operation)
        started = time.monotonic()
        try:
            response: httpx.Response = yield Send(request)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(
                f"{request.method} {request.url.path}: timed out ({exc})", request=request
            ) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{request.method} {request.url.path}: {exc}", request=request) from exc
        nonce = response.headers.get("dpop-nonce")
        if nonce:
            self.state.nonces[self.state.nonce_key(str(request.url), role)] = nonce
        self.state.hooks.response(response, attempt, operation, time.monotonic() - started)
        return response

    def _back_off(
        self, operation: str | None, failures: int, retry_after: float | None, reason: str, key: str | None
    ) -> Flow:
        delay = self.options.retry.delay(failures, retry_after, self.state.rng)
        self.state.hooks.retry(RetryInfo(operation, failures, delay, reason, key))
        yield Sleep(delay)

    def _warn_if_deprecated(self, operation: Operation[Any], response: httpx.Response) -> None:
        header = response.headers.get("deprecation")
        if not (operation.deprecated or header) or operation.id in self.state.warned:
            return
        self.state.warned.add(operation.id)
        sunset = response.headers.get("sunset") or operation.sunset
        until = f"; it stops working on {sunset}" if sunset else ""
        warnings.warn(
            f"{operation.id} ({operation.method} {operation.path}) is deprecated{until}",
            DeprecationWarning,
            stacklevel=4,
        )

    # -- the authorization server -----------------------------------------------------------------

    def oauth(self, path: str, form: Mapping[str, str], *, retry: bool, client_auth: bool = True) -> Flow:
        """POST a form to an authorization-server endpoint with client authentication and a DPoP proof.

        Returns the JSON answer. A `use_dpop_nonce` answer is retried once with the nonce (RFC 9449
        §8); `retry` allows backoff retries for requests that are safe to repeat (a new assertion each
        time), never for a code exchange (a code is single use: reuse revokes its tokens).
        """
        url = self.state.url(path)
        failures = 0
        nonce_retried = False
        while True:
            fields = dict(form) | (
                self.state.signer.form() if client_auth else {"client_id": self.state.client_id}
            )
            nonce = self.state.nonces.get(self.state.nonce_key(url, "authorization"))
            headers = {"accept": "application/json", "user-agent": USER_AGENT}
            if self.state.dpop is not None:
                headers["dpop"] = self.state.dpop.proof("POST", url, nonce=nonce)
            request = httpx.Request(
                "POST",
                url,
                data=fields,
                headers=headers,
                extensions={"timeout": self.options.timeout.as_dict()},
            )
            try:
                response = yield from self._send(request, failures + 1, path, role="authorization")
            except APIConnectionError as exc:
                failures += 1
                if not retry or failures > self.options.retry.max_retries:
                    raise
                reason = "timeout" if isinstance(exc, APITimeoutError) else "connection"
                yield from self._back_off(path, failures, None, reason, None)
                continue
            if response.is_success:
                answer: dict[str, Any] = response.json() if response.content else {}
                return answer
            error = error_for(response, oauth=True)
            if isinstance(error, OAuthError) and error.error == "use_dpop_nonce" and not nonce_retried:
                nonce_retried = True
                continue
            failures += 1
            if retry and retryable(response.status_code, None) and failures <= self.options.retry.max_retries:
                yield from self._back_off(path, failures, error.retry_after, str(response.status_code), None)
                continue
            raise error

    def refresh(self, grant: DelegatedGrant) -> Flow:
        """New tokens for a customer's grant (RFC 6749 §6), bound to the same DPoP key."""
        form = {"grant_type": "refresh_token", "refresh_token": grant.refresh_token or ""}
        body = yield from self.oauth("/oauth2/token", form, retry=False)
        return grant.refreshed(body, self.state.clock())


# -- encoding ---------------------------------------------------------------------------------------


def expand(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` segments; each value is percent-encoded whole (no `/` may reach the path)."""
    path = template
    for name, value in values.items():
        text = str(value.value if isinstance(value, Enum) else value)
        if not text:
            raise RequestValidationError(f"{name} must not be empty", field=name)
        path = path.replace("{" + name + "}", quote(text, safe=""))
    return path


def encode_query(values: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    params: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is None:
                continue
            params.append((name, _query_text(item)))
    return params


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def encode_body(operation: Operation[Any], values: Mapping[str, Any] | None) -> bytes | None:
    """Validate the body against the operation's model before anything is sent."""
    if operation.body is None or values is None:
        return None
    try:
        body = msgspec.convert(
            {k: v for k, v in values.items() if v is not msgspec.UNSET}, operation.body, from_attributes=True
        )
    except msgspec.ValidationError as exc:
        raise RequestValidationError(f"{operation.id}: {exc}", field=_field_of(str(exc))) from None
    return msgspec.json.encode(body)


def _field_of(message: str) -> str | None:
    marker = "at `$."
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`").replace("[", ".").replace("]", "")
    for marker in ("required field `", "unknown field `"):
        if marker in message:
            return message.split(marker, 1)[1].split("`", 1)[0]
    return None


def decode(operation: Operation[Any], response: httpx.Response) -> Any:
    """The success body as the operation's model (text for text media, None for no content)."""
    if operation.response is None or response.status_code == 204:
        return None
    if operation.response is str:
        return response.text
    try:
        return msgspec.json.decode(response.content, type=operation.response)
    except msgspec.ValidationError as exc:
        raise ResponseValidationError(operation.id, response, str(exc)) from None
