"""Deprecated operations answer when they stop working: `Deprecation`, `Sunset` and a `Link` (ADR 0014).

An operation opts in with `**deprecated(...)` on its route decorator. The headers travel as a
middleware of that route alone, so routes that are not deprecated carry no per-request cost. From
its sunset on, the operation answers a 410 `gone` problem with the same headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from litestar.exceptions import HTTPException
from litestar.openapi.spec import Operation
from litestar.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class Deprecation:
    """When an operation was deprecated, when it goes away, and where the migration is documented."""

    since: datetime
    sunset: datetime
    link: str

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("deprecation and sunset times need a time zone")
        # RFC 9745 §4: the sunset must not come before the deprecation it follows.
        if self.sunset < self.since:
            raise ValueError("the sunset must not be earlier than the deprecation")

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return (
            # RFC 9745 §2.1: a Structured Field Date (RFC 9651 §3.3.7), whole seconds since the epoch.
            (b"deprecation", f"@{int(self.since.timestamp())}".encode()),
            # RFC 8594 §3: an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7).
            (b"sunset", format_datetime(self.sunset.astimezone(UTC), usegmt=True).encode()),
            # RFC 9745 §3: the `deprecation` link relation points at the migration documentation.
            (b"link", f'<{self.link}>; rel="deprecation"'.encode()),
        )

    def __call__(self, app: ASGIApp) -> ASGIApp:
        """Wrap the route's ASGI stack (Litestar calls route middleware with `app=`)."""
        headers = list(self.headers)  # encoded once, when the route is built

        async def with_deprecation(scope: Scope, receive: Receive, send: Send) -> None:
            # After the sunset the operation is gone, by the platform's clock (test clocks move it).
            if scope["app"].state.platform.clock.now() >= self.sunset:
                raise HTTPException(
                    status_code=410,
                    detail=f"this operation stopped working at its sunset, {headers[1][1].decode()}",
                    headers={name.decode(): value.decode() for name, value in headers},
                    extra={"link": self.link, "sunset": self.sunset.isoformat()},
                )

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *headers]
                await send(message)

            await app(scope, receive, send_with_headers)

        return with_deprecation


def deprecated(*, since: datetime, sunset: datetime, link: str) -> dict[str, Any]:
    """Route keyword arguments that deprecate an operation, in the spec and in its responses."""
    deprecation = Deprecation(since=since, sunset=sunset, link=link)
    return {
        "deprecated": True,
        "middleware": [deprecation],
        "operation_class": _operation_announcing(deprecation),
    }


def _operation_announcing(deprecation: Deprecation) -> type[Operation]:
    """An OpenAPI operation that also publishes when it was deprecated and when it goes away."""
    extensions = {
        "x-deprecated-at": deprecation.since.isoformat(),
        "x-sunset": deprecation.sunset.isoformat(),
        "x-deprecation-link": deprecation.link,
    }

    @dataclass
    class DeprecatedOperation(Operation):
        def to_schema(self) -> dict[str, Any]:
            return {**super().to_schema(), **extensions}

    return DeprecatedOperation
