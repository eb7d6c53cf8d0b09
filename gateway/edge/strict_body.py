"""JSON bodies are decoded strictly: `0` is not `false` and `"5"` is not `5`.

Litestar converts a handler's whole signature in msgspec's lax mode (`strict=False`), which lets a
JSON number pass as a boolean. This hook decodes the body once more, strictly, against the handler's
`data` type before the handler runs; msgspec's JSON decoder is strict by default and takes a few
microseconds for bodies of our size.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

# Keyed by the handler's function, not the handler: every app copies its handlers, and a cache
# holding those copies would keep every app ever built alive (a test run builds thousands).
_BODY_TYPES: Final[dict[Any, Any]] = {}


def _body_type(handler: Any) -> Any:
    try:
        return _BODY_TYPES[handler.fn]
    except KeyError:
        pass
    parameter = handler.parsed_fn_signature.parameters.get("data")
    body_type = None
    if parameter is not None and isinstance(parameter.annotation, type):
        body_type = parameter.annotation if issubclass(parameter.annotation, msgspec.Struct) else None
    _BODY_TYPES[handler.fn] = body_type
    return body_type


async def decode_strictly(request: Request[Any, Any, Any]) -> None:
    body_type = _body_type(request.route_handler)
    if body_type is None:
        return
    try:
        msgspec.json.decode(await request.body(), type=body_type)
    except msgspec.ValidationError as exc:
        raise ValidationException(detail=str(exc), extra=[{"message": str(exc), "source": "body"}]) from exc
    except msgspec.DecodeError:
        return  # malformed JSON: Litestar's own parsing reports it as such
