"""Keyset pages: up to `limit` items, the id to continue after, and its opaque cursor."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

import msgspec

from gateway.domain.errors import RuleViolationError

_CURSOR_VERSION: Final = 1
_MAX_CURSOR_AFTER_LENGTH: Final = 128
_MAX_CURSOR_LENGTH: Final = 1024  # far above any cursor we issue; bounds the work on hostile input
_CURSOR_ALPHABET: Final = re.compile(r"[A-Za-z0-9_-]+")  # RFC 4648 §5 base64url, unpadded


class Keyed(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Keyed)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Up to `limit` items; `next_after` is the id to continue after (None: the last page)."""

    items: tuple[T, ...]
    next_after: str | None

    @property
    def has_more(self) -> bool:
        return self.next_after is not None

    @property
    def next_cursor(self) -> str | None:
        """The opaque cursor of the next page, as a list answer carries it."""
        return encode_cursor(self.next_after) if self.next_after is not None else None

    @classmethod
    def of(cls, found: Sequence[T], limit: int) -> Page[T]:
        """`found` holds up to `limit + 1` items: one more than the page says that a next page exists."""
        items = tuple(found[:limit])
        return cls(items, items[-1].id if len(found) > limit else None)


def encode_cursor(after_id: str) -> str:
    """Make the opaque page cursor for a keyset position: unpadded base64url of a versioned JSON."""
    if not 0 < len(after_id) <= _MAX_CURSOR_AFTER_LENGTH:
        raise ValueError(f"a cursor position has 1..{_MAX_CURSOR_AFTER_LENGTH} characters")
    raw = _CURSOR_ENCODER.encode(_CursorBody(v=_CURSOR_VERSION, after=after_id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> str:
    """Return the keyset position of a cursor made by `encode_cursor`; anything else is refused."""
    if len(cursor) > _MAX_CURSOR_LENGTH or _CURSOR_ALPHABET.fullmatch(cursor) is None:
        raise _invalid_cursor()
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        body = _CURSOR_DECODER.decode(raw)
    except (binascii.Error, msgspec.DecodeError) as exc:
        raise _invalid_cursor() from exc
    if body.v != _CURSOR_VERSION or not 0 < len(body.after) <= _MAX_CURSOR_AFTER_LENGTH:
        raise _invalid_cursor()
    # Only the canonical form is accepted, so a cursor has exactly one spelling (no padding, no
    # reordered keys, no stray bits in the last base64 character).
    if encode_cursor(body.after) != cursor:
        raise _invalid_cursor()
    return body.after


def _invalid_cursor() -> RuleViolationError:
    return RuleViolationError("cursor is not valid", field="cursor")


class _CursorBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    after: str


_CURSOR_ENCODER: Final = msgspec.json.Encoder()
_CURSOR_DECODER: Final = msgspec.json.Decoder(_CursorBody)
