"""`Client` and `AsyncClient`: the generated resources on top of one shared core."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

import httpx

from openplatform._core import delegation
from openplatform._core.delegation import AuthorizationRequest
from openplatform._core.engine import (
    CallOptions,
    ClientCredentials,
    Delegated,
    Engine,
    Flow,
    NeedToken,
    Send,
    Sleep,
    State,
    TokenSource,
    decode,
)
from openplatform._core.environment import DEFAULT_BASE_URL, Environment, environment_root
from openplatform._core.errors import ConfigurationError
from openplatform._core.hooks import Hooks, RequestInfo, ResponseInfo, RetryInfo
from openplatform._core.jose import ClientAssertionSigner, DPoPKey, KeyInput, PrivateKey, load_private_key
from openplatform._core.operation import Operation
from openplatform._core.pagination import AsyncPager, SyncPager
from openplatform._core.resource import RAW, ApiResponse
from openplatform._core.retries import RetryPolicy
from openplatform._core.tokens import DelegatedGrant, OnRefresh, Token
from openplatform._generated.resources import AsyncResources, SyncResources

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)


@dataclass
class TokenLocks:
    """One token renewal at a time per client: a thread lock, and a lock per event loop (an asyncio
    lock belongs to the loop that first waits on it)."""

    thread: threading.Lock = field(default_factory=threading.Lock)
    loops: dict[int, asyncio.Lock] = field(default_factory=dict)


class _Base(Generic[H]):
    """What both clients hold: the shared state, this view's engine, and the HTTP client."""

    _http_class: Callable[..., H]  # the flavour's httpx client, when none is given
    _state: State
    _engine: Engine
    _http: H

    def __init__(
        self,
        client_id: str,
        private_key: KeyInput | PrivateKey,
        *,
        base_url: str = DEFAULT_BASE_URL,
        scopes: Sequence[str] | None = None,
        dpop_key: KeyInput | PrivateKey | DPoPKey | None = None,
        use_dpop: bool = True,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 2,
        on_request: Callable[[RequestInfo], None] | None = None,
        on_response: Callable[[ResponseInfo], None] | None = None,
        on_retry: Callable[[RetryInfo], None] | None = None,
        http_client: H | None = None,
        allow_insecure_loopback: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        environment = Environment.of_client_id(client_id)
        root = environment_root(base_url, environment, allow_insecure_loopback=allow_insecure_loopback)
        key = load_private_key(private_key)
        if not use_dpop and environment is Environment.PRODUCTION:
            raise ConfigurationError(
                "production tokens are sender-constrained: a production client always uses DPoP"
            )
        if not use_dpop and dpop_key is not None:
            raise ConfigurationError("a DPoP key was given to a client that does not use DPoP")
        dpop = None
        if use_dpop:
            dpop = dpop_key if isinstance(dpop_key, DPoPKey) else DPoPKey(dpop_key, clock=clock)
        hooks = Hooks(
            tuple(h for h in (on_request,) if h),
            tuple(h for h in (on_response,) if h),
            tuple(h for h in (on_retry,) if h),
        )
        self._state = State(
            client_id=client_id,
            signer=ClientAssertionSigner(client_id, key, root, clock),
            dpop=dpop,
            environment=environment,
            root=root,
            scopes=tuple(scopes) if scopes else None,
            hooks=hooks,
            clock=clock,
            rng=random.Random(),  # noqa: S311 (retry jitter, not security)
        )
        options = CallOptions(
            timeout=timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            retry=RetryPolicy(max_retries=max_retries),
        )
        self._engine = Engine(self._state, options, ClientCredentials(self._state.scopes))
        self._http = http_client if http_client is not None else self._http_class(follow_redirects=False)
        self._owns_http = http_client is None
        self._locks = TokenLocks()  # shared by every view of this client

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Self:
        """A client from a credentials file: `{"client_id": ..., "private_jwk": {...}}`."""
        document = json.loads(Path(path).read_text())
        return cls(str(document["client_id"]), document["private_jwk"], **kwargs)

    @property
    def client_id(self) -> str:
        return self._state.client_id

    @property
    def environment(self) -> Environment:
        """Where this client's credential lives: it never calls the other environment."""
        return self._state.environment

    @property
    def issuer(self) -> str:
        """The environment's root URL and OAuth issuer."""
        return self._state.root

    @property
    def dpop_key(self) -> DPoPKey | None:
        """The key this client's tokens are bound to (RFC 9449); None for a sandbox bearer client."""
        return self._state.dpop

    @property
    def assertions(self) -> ClientAssertionSigner:
        """The `private_key_jwt` signer, for a partner that calls the token endpoint by hand."""
        return self._state.signer

    def _view(self, *, options: CallOptions | None = None, source: TokenSource | None = None) -> Self:
        view = copy.copy(self)
        view._engine = Engine(self._state, options or self._engine.options, source or self._engine.source)
        return view

    def _options(self, timeout: float | httpx.Timeout | None, max_retries: int | None) -> CallOptions:
        current = self._engine.options
        if isinstance(timeout, int | float):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        retry = current.retry if max_retries is None else replace(current.retry, max_retries=max_retries)
        return CallOptions(timeout=timeout or current.timeout, retry=retry)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Self:
        """The same client with other timeouts, retries or token scopes (for one call or many)."""
        source = ClientCredentials(tuple(scopes)) if scopes is not None else None
        return self._view(options=self._options(timeout, max_retries), source=source)

    def for_customer(self, grant: DelegatedGrant, *, on_refresh: OnRefresh | None = None) -> Self:
        """The same client acting for a customer under their grant; the grant is refreshed as needed."""
        return self._view(source=Delegated(grant, on_refresh))


class Client(SyncResources, _Base[httpx.Client]):
    """The synchronous client. `Client(client_id, private_key)` is all a first call needs."""

    _http_class = httpx.Client

    @property
    def oauth(self) -> OAuth:
        """The delegated flow and token management."""
        return OAuth(self)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the driver -------------------------------------------------------------------------------

    def _run(self, flow: Flow) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as done:
                return done.value
            value, error = None, None
            if isinstance(step, Send):
                try:
                    value = self._http.send(step.request)
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, NeedToken):
                value = self._token(step.source)

    def _token(self, source: TokenSource) -> Token:
        token = source.cached(self._state)
        if token is not None:
            return token
        with self._locks.thread:  # one renewal at a time: the others use its token
            token = source.cached(self._state)
            return token if token is not None else self._run(source.renew(self._engine))

    def _call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        raw = RAW.get()
        response = self._run(
            self._engine.call(operation, path=path, query=query, body=body, idempotency_key=idempotency_key)
        )
        parsed = decode(operation, response)
        return ApiResponse(parsed, response) if raw else parsed  # type: ignore[return-value]

    def _paginate(
        self, operation: Operation[Any], item: type[T], *, query: Mapping[str, Any] | None = None
    ) -> SyncPager[T]:
        def fetch(cursor: str | None) -> Any:
            return self._call(operation, query={**(query or {}), "cursor": cursor})

        return SyncPager(fetch)

    def access_token(self) -> str:
        """The current access token (renewed when it nears expiry), for a call made by other means."""
        return self._token(self._engine.source).access_token


class AsyncClient(AsyncResources, _Base[httpx.AsyncClient]):
    """The asynchronous client: the same calls, awaited; lists work with `async for`."""

    _http_class = httpx.AsyncClient

    @property
    def oauth(self) -> AsyncOAuth:
        """The delegated flow and token management."""
        return AsyncOAuth(self)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, flow: Flow) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as done:
                return done.value
            value, error = None, None
            if isinstance(step, Send):
                try:
                    value = await self._http.send(step.request)
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, NeedToken):
                value = await self._token(step.source)

    async def _token(self, source: TokenSource) -> Token:
        token = source.cached(self._state)
        if token is not None:
            return token
        # One lock per event loop: a lock is bound to the loop that first waits on it.
        lock = self._locks.loops.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
        async with lock:
            token = source.cached(self._state)
            return token if token is not None else await self._run(source.renew(self._engine))

    async def _call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        raw = RAW.get()
        response = await self._run(
            self._engine.call(operation, path=path, query=query, body=body, idempotency_key=idempotency_key)
        )
        parsed = decode(operation, response)
        return ApiResponse(parsed, response) if raw else parsed  # type: ignore[return-value]

    def _paginate(
        self, operation: Operation[Any], item: type[T], *, query: Mapping[str, Any] | None = None
    ) -> AsyncPager[T]:
        async def fetch(cursor: str | None) -> Any:
            return await self._call(operation, query={**(query or {}), "cursor": cursor})

        return AsyncPager(fetch)

    async def access_token(self) -> str:
        return (await self._token(self._engine.source)).access_token


class OAuth:
    """The delegated flow and token management of a `Client`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def authorization_request(
        self, *, consent_id: str, redirect_uri: str, state: str | None = None
    ) -> AuthorizationRequest:
        """Push the request (PAR, PKCE S256, DPoP); send the customer's browser to the answer's `url`."""
        engine = self._client._engine
        result: AuthorizationRequest = self._client._run(
            delegation.push(engine, consent_id=consent_id, redirect_uri=redirect_uri, state=state)
        )
        return result

    def exchange_code(self, callback_url: str, request: AuthorizationRequest) -> DelegatedGrant:
        """Check the callback (issuer per RFC 9207, state) and trade its code for the customer's tokens."""
        grant: DelegatedGrant = self._client._run(
            delegation.exchange(self._client._engine, callback_url, request)
        )
        return grant

    def refresh(self, grant: DelegatedGrant) -> DelegatedGrant:
        refreshed: DelegatedGrant = self._client._run(self._client._engine.refresh(grant))
        return refreshed

    def revoke(self, token: str, *, token_type_hint: str | None = None) -> None:
        """Revoke an access or refresh token (RFC 7009)."""
        self._client._run(delegation.revoke(self._client._engine, token, token_type_hint))


class AsyncOAuth:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def authorization_request(
        self, *, consent_id: str, redirect_uri: str, state: str | None = None
    ) -> AuthorizationRequest:
        engine = self._client._engine
        result: AuthorizationRequest = await self._client._run(
            delegation.push(engine, consent_id=consent_id, redirect_uri=redirect_uri, state=state)
        )
        return result

    async def exchange_code(self, callback_url: str, request: AuthorizationRequest) -> DelegatedGrant:
        grant: DelegatedGrant = await self._client._run(
            delegation.exchange(self._client._engine, callback_url, request)
        )
        return grant

    async def refresh(self, grant: DelegatedGrant) -> DelegatedGrant:
        refreshed: DelegatedGrant = await self._client._run(self._client._engine.refresh(grant))
        return refreshed

    async def revoke(self, token: str, *, token_type_hint: str | None = None) -> None:
        await self._client._run(delegation.revoke(self._client._engine, token, token_type_hint))
