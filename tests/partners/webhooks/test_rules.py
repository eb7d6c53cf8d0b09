"""Pure webhook rules: backoff schedule, the SSRF guard, the event catalogue, rotation grace."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.consent.models import EventKind
from gateway.domain.points.models import ConversionState
from gateway.domain.trading.models import EventType
from partners.webhooks.backoff import Backoff
from partners.webhooks.errors import EventTypeError, WebhookUrlError
from partners.webhooks.models import EVENT_CATALOGUE, Subscription, SubscriptionStatus, matches
from partners.webhooks.service import normalise_event_types
from partners.webhooks.signing import WebhookSecret
from partners.webhooks.url_guard import UrlPolicy, check_address, check_url

PRODUCTION = UrlPolicy()
LOCAL = UrlPolicy(allow_http=True, allow_loopback=True)


# -- backoff ------------------------------------------------------------------------------------


def test_ceiling_doubles_from_five_seconds_and_caps_at_one_hour() -> None:
    backoff = Backoff()
    ceilings = [backoff.ceiling(n).total_seconds() for n in range(1, 12)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert backoff.ceiling(10_000) == timedelta(hours=1)


def test_full_jitter_draws_between_the_floor_and_the_ceiling() -> None:
    backoff = Backoff()
    assert backoff.delay(3, lambda: 1.0) == timedelta(seconds=20)
    assert backoff.delay(3, lambda: 0.5) == timedelta(seconds=10)
    assert backoff.delay(3, lambda: 0.0) == timedelta(seconds=1)  # the floor
    draws = random.Random(7)
    delays = [backoff.delay(8, draws.random) for _ in range(200)]
    assert all(timedelta(seconds=1) <= d <= timedelta(seconds=640) for d in delays)
    assert len(set(delays)) > 150  # spread, not one value


def test_same_random_source_gives_the_same_schedule() -> None:
    backoff = Backoff()
    first = [backoff.delay(n, random.Random(3).random) for n in range(1, 9)]
    second = [backoff.delay(n, random.Random(3).random) for n in range(1, 9)]
    assert first == second


def test_dead_after_max_attempts() -> None:
    backoff = Backoff(max_attempts=8)
    assert [backoff.exhausted(n) for n in (1, 7, 8, 9)] == [False, False, True, True]
    with pytest.raises(ValueError, match="max_attempts"):
        Backoff(max_attempts=0)


# -- the SSRF guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://partner.example.com/hook", "https_required"),
        ("ftp://partner.example.com/hook", "scheme_not_allowed"),
        ("gopher://partner.example.com/", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("https://user:pw@partner.example.com/hook", "credentials_in_url"),
        ("https://user@partner.example.com/hook", "credentials_in_url"),
        ("https://partner.example.com/hook#frag", "fragment_not_allowed"),
        ("https:///hook", "invalid_host"),
        ("https://partner.example.com:22/hook", "port_not_allowed"),
        ("https://partner.example.com:25/hook", "port_not_allowed"),
        ("https://127.0.0.1/hook", "loopback_address"),
        ("https://[::1]/hook", "loopback_address"),
        ("https://localhost/hook", "internal_hostname"),
        ("https://api.localhost/hook", "internal_hostname"),
        ("https://10.1.2.3/hook", "private_address"),
        ("https://172.16.0.1/hook", "private_address"),
        ("https://192.168.1.1/hook", "private_address"),
        ("https://[fd12::1]/hook", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "metadata_address"),
        ("https://[fd00:ec2::254]/", "metadata_address"),
        ("https://169.254.10.10/", "link_local_address"),
        ("https://[fe80::1]/", "link_local_address"),
        ("https://224.0.0.1/", "multicast_address"),
        ("https://[ff02::1]/", "multicast_address"),
        ("https://0.0.0.0/", "unspecified_address"),
        ("https://[::]/", "unspecified_address"),
        ("https://100.64.0.1/", "reserved_address"),
        ("https://192.0.2.10/", "private_address"),  # documentation range: Python files it as private
        ("https://240.0.0.1/", "private_address"),
        ("https://[::ffff:10.0.0.1]/", "private_address"),
        ("https://[::ffff:127.0.0.1]/", "loopback_address"),
        ("https://2130706433/", "invalid_host"),
        ("https://0x7f.1/", "invalid_host"),
        ("https://127.1/", "invalid_host"),
        ("https://intranet/hook", "internal_hostname"),
        ("https://metadata.google.internal/", "internal_hostname"),
        ("https://printer.local/", "internal_hostname"),
        ("https://bad_host.example.com/", "invalid_host"),
        ("https://partner.example.com/" + "a" * 2100, "url_too_long"),
    ],
)
def test_unsafe_urls_are_refused_naming_the_rule(url: str, rule: str) -> None:
    with pytest.raises(WebhookUrlError) as refused:
        check_url(url, PRODUCTION)
    assert refused.value.context == {"field": "url", "rule": rule}


@pytest.mark.parametrize(
    "url",
    [
        "https://partner.example.com/hook",
        "https://partner.example.com:8443/hook?x=1",
        "https://partner.example.com:443/hook",
        "https://93.184.215.14/hook",
        "https://[2606:4700::1111]/hook",
    ],
)
def test_public_https_urls_pass(url: str) -> None:
    assert check_url(url, PRODUCTION).url == url


def test_http_and_loopback_only_where_the_policy_allows_them() -> None:
    endpoint = check_url("http://127.0.0.1:9000/hook", LOCAL)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == ("http", "127.0.0.1", 9000)
    assert check_url("http://localhost:9000/hook", LOCAL).host == "localhost"
    for url, rule in (
        ("http://10.0.0.1/hook", "private_address"),
        ("http://169.254.169.254/", "metadata_address"),
    ):
        with pytest.raises(WebhookUrlError) as refused:
            check_url(url, LOCAL)  # private and metadata stay refused even for local receivers
        assert refused.value.context["rule"] == rule


def test_resolved_addresses_are_checked_too() -> None:
    check_address(ipaddress.ip_address("93.184.215.14"), PRODUCTION)
    for address, rule in (("10.0.0.7", "private_address"), ("169.254.169.254", "metadata_address")):
        with pytest.raises(WebhookUrlError) as refused:
            check_address(ipaddress.ip_address(address), PRODUCTION)
        assert refused.value.context["rule"] == rule


# -- the event catalogue ---------------------------------------------------------------------------


def test_catalogue_knows_every_event_the_outbox_emits() -> None:
    emitted = (
        {e.value for e in EventType}
        | {f"consent.{kind.value}" for kind in EventKind}
        | {f"conversion.{state.value}" for state in ConversionState}  # ADR 0009
    )
    assert emitted <= EVENT_CATALOGUE


def test_event_types_are_known_names_or_family_wildcards() -> None:
    assert normalise_event_types(["order.*", "consent.revoked", "order.*"]) == ("order.*", "consent.revoked")
    for bad, field in (
        (["order.exploded"], "event_types.0"),
        (["order.filled", "nothing.*"], "event_types.1"),
        (["*"], "event_types.0"),
        ([], "event_types"),
    ):
        with pytest.raises(EventTypeError) as refused:
            normalise_event_types(bad)
        assert refused.value.context["field"] == field


def test_wildcards_match_their_family_only() -> None:
    assert matches("order.*", "order.filled")
    assert not matches("order.*", "orders.filled")
    assert not matches("order.*", "fill.created")
    assert matches("fill.created", "fill.created")
    assert not matches("fill.created", "fill.created.more")


# -- rotation grace --------------------------------------------------------------------------------


def test_old_secret_signs_only_during_the_grace_period() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    new, old = WebhookSecret.generate(), WebhookSecret.generate()
    subscription = Subscription(
        id="whs_1",
        partner_id="prt_1",
        client_id="sbx_1",
        url="https://partner.example.com/hook",
        event_types=("order.*",),
        status=SubscriptionStatus.ACTIVE,
        secret=new,
        previous_secret=old,
        previous_secret_expires_at=now + timedelta(hours=24),
        created_at=now,
        updated_at=now,
    )
    assert subscription.signing_secrets(now) == (new, old)
    assert subscription.signing_secrets(now + timedelta(hours=24)) == (new,)
    assert subscription.receives("order.filled")
    assert not replace(subscription, status=SubscriptionStatus.DISABLED).receives("order.filled")
