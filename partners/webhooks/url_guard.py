"""The SSRF guard: which endpoint URLs a subscription may name, and which addresses a delivery may reach.

It runs twice: on the URL when a subscription is created (`check_url`), and on every address the
host resolves to right before each attempt (`check_address`), because DNS may answer differently
later (DNS rebinding). The sender then connects to the address it checked, not to a fresh lookup.

Rule table (ADR 0010); each refusal names `field` and `rule`:
| rule                  | refused                                                                   |
| url_too_long          | more than 2,048 characters                                                |
| scheme_not_allowed    | any scheme but https (and http where the policy allows it)                |
| https_required        | http where the policy does not allow it (production)                      |
| credentials_in_url    | user or password in the URL                                               |
| fragment_not_allowed  | a `#fragment` (it never reaches the receiver; a sign of a mistake)        |
| invalid_host          | no host, odd characters, a numeric last label (`2130706433`, `0x7f.1`)    |
| internal_hostname     | `localhost` (unless loopback is allowed), single-label names, `.internal`, |
|                       | `.local`, `.localdomain`, `.home.arpa`                                    |
| port_not_allowed      | an explicit port other than 80/443 below 1024 (no SMTP, SSH, ...)         |
| unspecified_address   | 0.0.0.0, ::                                                               |
| loopback_address      | 127.0.0.0/8, ::1 (allowed only where the policy allows loopback)          |
| metadata_address      | 169.254.169.254, fd00:ec2::254 (cloud instance metadata)                  |
| link_local_address    | 169.254.0.0/16, fe80::/10                                                 |
| multicast_address     | 224.0.0.0/4, ff00::/8                                                     |
| private_address       | RFC 1918, fc00::/7 and the other ranges Python calls private              |
| reserved_address      | anything else not globally routable (CGNAT 100.64/10, documentation, ...) |
IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are judged as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from partners.webhooks.errors import WebhookUrlError

MAX_URL_LENGTH: Final = 2048
METADATA_ADDRESSES: Final = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
INTERNAL_SUFFIXES: Final = (".internal", ".local", ".localdomain", ".home.arpa", ".localhost")
_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """What an environment allows: production is https-only and never loopback."""

    allow_http: bool = False
    allow_loopback: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked endpoint URL, taken apart for the sender."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None  # set when the URL names an IP literal

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)


def _refuse(rule: str, detail: str, field: str = "url") -> WebhookUrlError:
    return WebhookUrlError(detail, field=field, rule=rule)


def check_url(url: str, policy: UrlPolicy, *, field: str = "url") -> Endpoint:
    """Refuse a URL that could reach into our network; answer its parts when it is fine."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse("url_too_long", f"the URL is longer than {MAX_URL_LENGTH} characters", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse("invalid_host", f"the URL cannot be parsed: {exc}", field) from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise _refuse("scheme_not_allowed", "webhook URLs use https", field)
    if scheme == "http" and not policy.allow_http:
        raise _refuse("https_required", "webhook URLs in this environment must use https", field)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("credentials_in_url", "the URL must not carry a user or password", field)
    if parts.fragment or url.endswith("#"):
        raise _refuse("fragment_not_allowed", "the URL must not have a #fragment", field)
    host = (parts.hostname or "").lower()
    if not host:
        raise _refuse("invalid_host", "the URL has no host", field)
    if port is not None and port < 1024 and port not in {80, 443}:
        raise _refuse("port_not_allowed", f"port {port} is not allowed; use 443, 80 or 1024-65535", field)
    effective_port = port if port is not None else (443 if scheme == "https" else 80)
    address = _literal(host)
    if address is not None:
        check_address(address, policy, field=field)
    else:
        _check_hostname(host, policy, field)
    return Endpoint(url=url, scheme=scheme, host=host, port=effective_port, address=address)


def check_address(address: IPAddress, policy: UrlPolicy, *, field: str = "url") -> None:
    """Refuse an address outside the public internet (run on every resolved address, every attempt)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        raise _refuse("unspecified_address", f"{address} is the unspecified address", field)
    if address.is_loopback:
        if policy.allow_loopback:
            return
        raise _refuse("loopback_address", f"{address} is a loopback address", field)
    if address in METADATA_ADDRESSES:
        raise _refuse("metadata_address", f"{address} is a cloud metadata address", field)
    if address.is_link_local:
        raise _refuse("link_local_address", f"{address} is a link-local address", field)
    if address.is_multicast:
        raise _refuse("multicast_address", f"{address} is a multicast address", field)
    if address.is_private:
        raise _refuse("private_address", f"{address} is a private address", field)
    if not address.is_global:
        raise _refuse("reserved_address", f"{address} is not a public internet address", field)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_hostname(host: str, policy: UrlPolicy, field: str) -> None:
    name = host.rstrip(".")
    labels = name.split(".")
    if not name or not all(_LABEL.match(label) for label in labels):
        raise _refuse("invalid_host", f"{host!r} is not a valid host name", field)
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # Numeric forms such as 2130706433 or 0x7f.1 are IPv4 addresses to some resolvers.
        raise _refuse("invalid_host", f"{host!r} looks like an encoded IP address", field)
    if name == "localhost" or name.endswith(".localhost"):
        if policy.allow_loopback:
            return
        raise _refuse("internal_hostname", f"{host!r} names this machine", field)
    if len(labels) < 2 or name.endswith(INTERNAL_SUFFIXES):
        raise _refuse("internal_hostname", f"{host!r} is an internal host name", field)
