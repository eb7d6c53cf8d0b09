"""Keyset pages: the one way every list in storage pages through its rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa


def keyset_page(
    select: sa.Select[Any],
    table: sa.Table,
    after: str | None,
    limit: int,
    *,
    owner: Mapping[str, str] | None = None,
    at: str = "created_at",
    newest_first: bool = True,
) -> sa.Select[Any]:
    """`limit` rows of `select` ordered by (`at`, id), starting after the row `after`.

    Only one of the owner's own rows (every column of `owner` equal) is a position: any other id,
    someone else's or unknown, gives no position, so the page is empty rather than a leak.
    """
    moment, row_id = table.c[at], table.c.id
    if after is not None:
        seen = table.alias("seen")
        position = seen.c.id == after
        for column, value in (owner or {}).items():
            position &= seen.c[column] == value
        seen_at = sa.select(seen.c[at]).where(position).scalar_subquery()
        if newest_first:
            select = select.where((moment < seen_at) | ((moment == seen_at) & (row_id < after)))
        else:
            select = select.where((moment > seen_at) | ((moment == seen_at) & (row_id > after)))
    order = (moment.desc(), row_id.desc()) if newest_first else (moment, row_id)
    return select.order_by(*order).limit(limit)
