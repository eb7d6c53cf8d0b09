"""The bases of the generated resources, and raw-response access for any of their methods."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

import httpx

from openplatform._core.operation import Operation
from openplatform._core.pagination import AsyncPager, SyncPager

T = TypeVar("T")
P = ParamSpec("P")

RAW: contextvars.ContextVar[bool] = contextvars.ContextVar("openplatform_raw", default=False)


@dataclass(frozen=True, slots=True)
class ApiResponse(Generic[T]):
    """A parsed answer with the HTTP response it came in (headers such as `RateLimit-Remaining`)."""

    parsed: T
    http: httpx.Response

    @property
    def status_code(self) -> int:
        return self.http.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http.headers

    @property
    def request_id(self) -> str | None:
        value: str | None = self.http.headers.get("x-request-id")
        return value


class SyncCaller(Protocol):
    def _call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> T: ...

    def _paginate(
        self, operation: Operation[Any], item: type[T], *, query: Mapping[str, Any] | None = None
    ) -> SyncPager[T]: ...


class AsyncCaller(Protocol):
    async def _call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> T: ...

    def _paginate(
        self, operation: Operation[Any], item: type[T], *, query: Mapping[str, Any] | None = None
    ) -> AsyncPager[T]: ...


class SyncResource:
    def __init__(self, client: SyncCaller) -> None:
        self._client = client


class AsyncResource:
    def __init__(self, client: AsyncCaller) -> None:
        self._client = client


def raw_sync(method: Callable[P, T]) -> Callable[P, ApiResponse[T]]:
    """The same call, answering with the parsed body and the HTTP response."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> ApiResponse[T]:
        token = RAW.set(True)
        try:
            answer: Any = method(*args, **kwargs)
        finally:
            RAW.reset(token)
        return answer  # type: ignore[no-any-return]

    return wrapper


def raw_async(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[ApiResponse[T]]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> ApiResponse[T]:
        token = RAW.set(True)
        try:
            answer: Any = await method(*args, **kwargs)
        finally:
            RAW.reset(token)
        return answer  # type: ignore[no-any-return]

    return wrapper
