"""Keyset pages: one more row than the page says that a next page exists, and where it starts."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.paging import Page, decode_cursor


@dataclass(frozen=True)
class Row:
    id: str


ROWS = [Row(f"row_{n}") for n in range(4)]


def test_a_page_of_limit_plus_one_rows_continues_after_its_last_item() -> None:
    page = Page.of(ROWS, 3)
    assert [row.id for row in page.items] == ["row_0", "row_1", "row_2"]
    assert page.has_more
    assert page.next_after == "row_2"
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == "row_2"


def test_the_last_page_has_no_cursor() -> None:
    page = Page.of(ROWS, 4)
    assert len(page.items) == 4
    assert not page.has_more
    assert page.next_after is None
    assert page.next_cursor is None
