"""POST one signed webhook with httpx: short timeouts, no redirects, no proxies from the environment,
and only to an address the SSRF guard checked a moment before (ADR 0010, DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Final

import httpx

from partners.webhooks.errors import WebhookUrlError
from partners.webhooks.models import SNIPPET_LIMIT, OutgoingRequest, SendResult
from partners.webhooks.url_guard import IPAddress, UrlPolicy, check_address, check_url

USER_AGENT: Final = "OpenPlatform-Webhooks/1"
READ_LIMIT: Final = 1024  # bytes of the answer read at most; the log keeps SNIPPET_LIMIT characters

Resolver = Callable[[str, int], list[IPAddress]]


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (A and AAAA), in the resolver's order."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class HttpSender:
    """Satisfies `partners.webhooks.ports.Sender`."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 5.0,
        resolver: Resolver = resolve,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._resolve = resolver
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,  # a redirect could point anywhere, past the guard
            trust_env=False,  # no proxy or netrc from the environment
            # One connection per message: a pooled TLS connection to the same address must not
            # carry a message for another host name.
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            endpoint = check_url(request.url, policy)
            if endpoint.address is not None:
                addresses = [endpoint.address]
            else:
                addresses = self._resolve(endpoint.host, endpoint.port)
            if not addresses:
                return SendResult(status_code=None, error="dns_no_address", duration_ms=elapsed())
            for address in addresses:  # every answer must pass: a rebinding answer may come first next time
                check_address(address, policy)
        except WebhookUrlError as exc:
            return SendResult(status_code=None, error=f"ssrf:{exc.context['rule']}", duration_ms=elapsed())
        except OSError as exc:
            return SendResult(status_code=None, error=f"dns:{type(exc).__name__}", duration_ms=elapsed())
        target = addresses[0]
        url = httpx.URL(request.url).copy_with(host=str(target))
        host_header = endpoint.host if endpoint.default_port else f"{endpoint.host}:{endpoint.port}"
        extensions = {"sni_hostname": endpoint.host} if endpoint.scheme == "https" else {}
        outgoing = self._client.build_request(
            "POST",
            url,
            content=request.body,
            headers={**request.headers, "host": host_header, "user-agent": USER_AGENT},
            extensions=extensions,
        )
        try:
            response = self._client.send(outgoing, stream=True)
            try:
                head = b""
                for chunk in response.iter_bytes():
                    head += chunk
                    if len(head) >= READ_LIMIT:
                        break
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return SendResult(status_code=None, error=type(exc).__name__, duration_ms=elapsed())
        snippet = head[:READ_LIMIT].decode("utf-8", "replace")[:SNIPPET_LIMIT]
        return SendResult(
            status_code=response.status_code, error=None, duration_ms=elapsed(), snippet=snippet
        )
