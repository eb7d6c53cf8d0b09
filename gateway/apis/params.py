"""Request parameters that many operations share: the Idempotency-Key header and cursor paging."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, QueryParameter

from gateway.apis.schemas import Rule

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="Makes the POST safe to retry: the same key and body replay the first response.",
    ),
]
# Opaque: only a `next_cursor` this API returned is valid (anything else is a 422 naming `cursor`).
Cursor = Annotated[
    str,
    QueryParameter(
        name="cursor",
        required=False,
        max_length=1024,
        pattern=r"^[A-Za-z0-9_-]{0,1024}$",
        schema_extra={"format": "page-cursor"},
        description="The `next_cursor` of the previous page; absent or empty for the first page.",
    ),
]
CURSOR_RULE = Rule(
    "rule-violation", "`cursor` is not a `next_cursor` this API returned (`context.field` is `cursor`)"
)
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=100)]
