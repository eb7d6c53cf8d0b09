"""Models back to plain data: for logs, storage or printing."""

from __future__ import annotations

from typing import Any

import msgspec


def to_dict(value: Any) -> Any:
    """A model (or a list of them) as JSON-ready builtins: dicts, lists, strings and numbers."""
    return msgspec.to_builtins(value)


def to_json(value: Any, *, indent: int = 2) -> str:
    """A model as JSON text, indented for reading."""
    return msgspec.json.format(msgspec.json.encode(value), indent=indent).decode()
