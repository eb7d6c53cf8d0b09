"""The httpx sender: the checked address is the one connected to, no redirects, errors as classes;
and the settings that shape delivery."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from gateway.adapters.webhook_sender import HttpSender, Resolver
from gateway.app import url_policy
from gateway.domain.environment import Environment
from gateway.settings import Settings, SettingsError
from partners.webhooks.models import OutgoingRequest
from partners.webhooks.url_guard import IPAddress, UrlPolicy

PUBLIC = ipaddress.ip_address("93.184.215.14")
REQUEST = OutgoingRequest(
    url="https://hooks.partner.example.com/in?x=1",
    headers={"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
    body=b'{"type":"order.filled"}',
)


def resolver(*answers: str) -> tuple[list[tuple[str, int]], Resolver]:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append((host, port))
        return [ipaddress.ip_address(a) for a in answers]

    return asked, resolve


def test_connects_to_the_checked_address_with_host_and_sni_of_the_name() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok" * 1000)

    asked, resolve = resolver(str(PUBLIC))
    sender = HttpSender(resolver=resolve, transport=httpx.MockTransport(answer))
    result = sender.send(REQUEST, UrlPolicy())
    assert asked == [("hooks.partner.example.com", 443)]
    [request] = seen
    assert request.url.host == str(PUBLIC)
    assert request.url.path == "/in"
    assert request.url.query == b"x=1"
    assert request.headers["host"] == "hooks.partner.example.com"
    assert request.extensions["sni_hostname"] == "hooks.partner.example.com"
    assert request.headers["webhook-id"] == "evt_1"
    assert request.content == REQUEST.body
    assert (result.status_code, result.error, result.succeeded) == (200, None, True)
    assert len(result.snippet) == 200


def test_dns_rebinding_to_a_private_address_is_refused_before_connecting() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("never connects")

    for answers, rule in (
        (("10.0.0.5",), "private_address"),
        ((str(PUBLIC), "169.254.169.254"), "metadata_address"),  # one bad answer is enough
        (("127.0.0.1",), "loopback_address"),
    ):
        _, resolve = resolver(*answers)
        sender = HttpSender(resolver=resolve, transport=httpx.MockTransport(answer))
        result = sender.send(REQUEST, UrlPolicy())
        assert (result.status_code, result.error) == (None, f"ssrf:{rule}")


def test_redirects_are_not_followed_and_count_as_failures() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    _, resolve = resolver(str(PUBLIC))
    result = HttpSender(resolver=resolve, transport=httpx.MockTransport(answer)).send(REQUEST, UrlPolicy())
    assert (result.status_code, result.succeeded) == (302, False)


def test_transport_errors_are_recorded_by_class() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    _, resolve = resolver(str(PUBLIC))
    result = HttpSender(resolver=resolve, transport=httpx.MockTransport(answer)).send(REQUEST, UrlPolicy())
    assert (result.status_code, result.error) == (None, "ConnectTimeout")

    def unresolvable(host: str, port: int) -> list[IPAddress]:
        raise OSError("no such host")

    failed = HttpSender(resolver=unresolvable).send(REQUEST, UrlPolicy())
    assert failed.error == "dns:OSError"


def test_delivery_settings_and_their_bounds() -> None:
    defaults = Settings.from_env({})
    assert defaults.webhooks_embedded
    assert defaults.webhook_max_attempts == 8
    assert defaults.webhook_timeout_seconds == 5
    assert defaults.webhook_loopback_environments == frozenset({"sandbox"})
    assert url_policy(defaults, Environment.SANDBOX) == UrlPolicy(allow_http=True, allow_loopback=True)
    assert url_policy(defaults, Environment.PRODUCTION) == UrlPolicy()
    separate = Settings.from_env({"WEBHOOKS_EMBEDDED": "0", "WEBHOOK_LOOPBACK_ENVIRONMENTS": ""})
    assert not separate.webhooks_embedded
    assert url_policy(separate, Environment.SANDBOX) == UrlPolicy()
    for name, value in (
        ("WEBHOOK_MAX_ATTEMPTS", "0"),
        ("WEBHOOK_MAX_ATTEMPTS", "21"),
        ("WEBHOOK_TIMEOUT_SECONDS", "60"),
        ("WEBHOOK_LOOPBACK_ENVIRONMENTS", "staging"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
