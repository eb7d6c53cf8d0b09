"""What hooks and logs see of a call: never a token, an assertion, a proof, a code or a key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import httpx

log = logging.getLogger("openplatform")

REDACTED: Final = "[redacted]"
SECRET_HEADERS: Final = frozenset({"authorization", "dpop", "cookie", "set-cookie", "proxy-authorization"})
# Members of forms and query strings that carry credentials (RFC 6749, RFC 7523, RFC 7636, RFC 9126).
SECRET_PARAMETERS: Final = frozenset(
    {
        "client_assertion",
        "code",
        "code_verifier",
        "refresh_token",
        "access_token",
        "token",
        "password",
        "request_uri",
    }
)


def redact_headers(headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if name.lower() == "authorization" and " " in value else ""
            out[name.lower()] = f"{scheme} {REDACTED}".strip()
        else:
            out[name.lower()] = value
    return out


def redact_url(url: httpx.URL) -> str:
    if not url.query:
        return str(url)
    params = [(k, REDACTED if k in SECRET_PARAMETERS else v) for k, v in url.params.multi_items()]
    return str(url.copy_with(params=params))


@dataclass(frozen=True, slots=True)
class RequestInfo:
    method: str
    url: str
    headers: dict[str, str]
    attempt: int
    operation: str | None


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    attempt: int
    operation: str | None
    request_id: str | None
    elapsed: float


@dataclass(frozen=True, slots=True)
class RetryInfo:
    """Told to the retry hook before the SDK sleeps and tries again."""

    operation: str | None
    attempt: int  # the attempt that failed, 1-based
    delay: float
    reason: str  # "connection", "timeout" or the HTTP status
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class Hooks:
    on_request: tuple[Callable[[RequestInfo], None], ...] = field(default=())
    on_response: tuple[Callable[[ResponseInfo], None], ...] = field(default=())
    on_retry: tuple[Callable[[RetryInfo], None], ...] = field(default=())

    def request(self, request: httpx.Request, attempt: int, operation: str | None) -> None:
        if not self.on_request and not log.isEnabledFor(logging.DEBUG):
            return  # nobody listens: no redacted copy to make
        info = RequestInfo(
            request.method, redact_url(request.url), redact_headers(request.headers), attempt, operation
        )
        log.debug("request %s %s attempt %d headers %s", info.method, info.url, attempt, info.headers)
        for hook in self.on_request:
            hook(info)

    def response(self, response: httpx.Response, attempt: int, operation: str | None, elapsed: float) -> None:
        if not self.on_response and not log.isEnabledFor(logging.DEBUG):
            return
        request = response.request
        info = ResponseInfo(
            request.method,
            redact_url(request.url),
            response.status_code,
            redact_headers(response.headers),
            attempt,
            operation,
            response.headers.get("x-request-id"),
            elapsed,
        )
        log.debug("response %s %s -> %d request_id %s", info.method, info.url, info.status, info.request_id)
        for hook in self.on_response:
            hook(info)

    def retry(self, info: RetryInfo) -> None:
        log.info(
            "retrying %s after %s in %.2f s (attempt %d)",
            info.operation,
            info.reason,
            info.delay,
            info.attempt,
        )
        for hook in self.on_retry:
            hook(info)
