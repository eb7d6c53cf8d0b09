"""Cursor pagination: iterate items across pages with `for` or `async for`, one page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class Page(Protocol[T]):
    @property
    def data(self) -> list[T]: ...

    @property
    def has_more(self) -> bool: ...

    @property
    def next_cursor(self) -> str | None: ...


class SyncPager(Generic[T]):
    """Every item of a list operation; the next page is fetched by cursor when the last is used up."""

    def __init__(self, fetch: Callable[[str | None], Any]) -> None:
        self._fetch = fetch

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def pages(self) -> Iterator[Page[T]]:
        cursor: str | None = None
        while True:
            page: Page[T] = self._fetch(cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def first_page(self) -> Page[T]:
        page: Page[T] = self._fetch(None)
        return page


class AsyncPager(Generic[T]):
    """The async twin of `SyncPager`: `async for item in client.orders.list()`."""

    def __init__(self, fetch: Callable[[str | None], Awaitable[Any]]) -> None:
        self._fetch = fetch

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor: str | None = None
        while True:
            page: Page[T] = await self._fetch(cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    async def first_page(self) -> Page[T]:
        page: Page[T] = await self._fetch(None)
        return page
