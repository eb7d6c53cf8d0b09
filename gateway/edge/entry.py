"""The first thing every HTTP request meets: its environment and its request id."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Litestar
from litestar.types import Message, Receive, Scope, Send

from gateway.domain.environment import Environment
from gateway.domain.ids import new_id

SANDBOX_PREFIX: Final = "/sandbox"
DISCOVERY: Final = "/.well-known/oauth-authorization-server"
REQUEST_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def select_environment(scope: Any) -> Environment:
    """Production lives at the root and the sandbox under `/sandbox`; the same routes serve both.

    RFC 8414 §3 puts the sandbox issuer's metadata at `/.well-known/oauth-authorization-server/sandbox`.
    """
    path: str = scope["path"]
    if path == SANDBOX_PREFIX or path.startswith(SANDBOX_PREFIX + "/"):
        scope["path"] = path[len(SANDBOX_PREFIX) :] or "/"
        scope["raw_path"] = scope["path"].encode()
        return Environment.SANDBOX
    if path == DISCOVERY + SANDBOX_PREFIX:
        scope["path"] = DISCOVERY
        scope["raw_path"] = DISCOVERY.encode()
        return Environment.SANDBOX
    return Environment.PRODUCTION


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if REQUEST_ID_PATTERN.match(candidate):
                return candidate
            break
    return new_id("req")


class Gateway(Litestar):
    """Litestar, entered through the environment selection and the request id."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        kind: str = scope["type"]
        if kind != "http":
            await super().__call__(scope, receive, send)
            return
        environment = select_environment(scope)
        request_id = request_id_of(scope["headers"])  # type: ignore[arg-type]
        scope["state"] = {"environment": environment, "request_id": request_id}
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await super().__call__(scope, receive, send_with_id)
