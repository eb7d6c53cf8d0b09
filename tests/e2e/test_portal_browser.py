"""The developer portal in a real browser on the real server: headless Chromium signs up, creates
a sandbox app with a key pair made by WebCrypto, saves the private key it is offered once, runs the
page's quickstart with that key (a real token and a real sandbox call over TCP), and sees the call
in the usage chart."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Final

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from gateway.demo import new_private_jwk, public_part
from tests.delegation import hidden
from tests.e2e.servers import CookieBrowser, RealServer
from tests.e2e.test_browser import SCREENSHOTS, browser, chromium  # noqa: F401 (shared fixtures)

pytestmark = pytest.mark.slow

PASSWORD: Final = "tide-lantern-orbit-42"
USAGE_SECONDS: Final = 30.0  # the other worker flushes its usage every 5 s (settings.usage_flush_seconds)
QUICKSTART_SECONDS: Final = 60.0


@pytest.fixture
def real(servers: dict[str, RealServer]) -> RealServer:
    return servers["sqlite"]  # one backend is enough for what a browser adds


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 (the shared fixture)
    context = browser.new_context(accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def run_quickstart(code: str, folder: Path) -> dict[str, object]:
    """Save and run the page's quickstart as a developer would; what it printed (the first call's answer)."""
    (folder / "quickstart.py").write_text(code)
    run = subprocess.run(
        [sys.executable, "quickstart.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=QUICKSTART_SECONDS,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    answer: dict[str, object] = json.loads(run.stdout)
    return answer


def screenshot(page: Page, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"portal-{step}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG"), path


def test_sign_up_create_an_app_with_a_browser_key_call_the_sandbox_and_see_the_usage(
    real: RealServer, page: Page, tmp_path: Path
) -> None:
    posted: list[str] = []

    def remember(request: Request) -> None:
        if request.method == "POST":
            posted.append(request.post_data or "")

    page.on("request", remember)
    email = f"ada.{secrets.token_hex(4)}@example.com"

    # 1. sign up: the organisation becomes a developer partner in the sandbox stage
    page.goto(f"{real.base_url}/portal/signup")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("organisation").fill(f"Ada Labs {secrets.token_hex(3)}")
    page.get_by_test_id("region").select_option("SG")
    page.get_by_test_id("password").fill(PASSWORD)
    screenshot(page, "signup")
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("stage")).to_have_text("sandbox")
    expect(page.get_by_test_id("developer")).to_contain_text(email)
    screenshot(page, "apps")

    # 2. a sandbox app whose key pair the browser makes; only the public half is posted
    page.get_by_test_id("new-app").click()
    page.get_by_test_id("app-name").fill("Fund explorer")
    page.get_by_test_id("scope-funds:read").check()
    page.get_by_test_id("key-source-browser").check()
    expect(page.get_by_test_id("create-app")).to_be_disabled()  # not before the key is saved
    page.get_by_test_id("generate-key").click()
    expect(page.get_by_test_id("private-key-download")).to_be_visible()
    screenshot(page, "key-generated")
    with page.expect_download() as download:
        page.get_by_test_id("private-key-download").click()
    key_file = tmp_path / download.value.suggested_filename
    download.value.save_as(key_file)
    private = json.loads(key_file.read_text())
    public = json.loads(page.get_by_test_id("jwk").input_value())
    assert (private["kty"], private["crv"]) == ("EC", "P-256")
    assert "d" in private
    assert public == {k: v for k, v in private.items() if k != "d"}
    assert key_file.name == f"{private['kid']}.private.jwk.json"
    expect(page.get_by_test_id("private-key-download")).to_be_hidden()  # offered once
    expect(page.get_by_test_id("create-app")).to_be_enabled()
    page.get_by_test_id("create-app").click()
    expect(page.get_by_test_id("app-heading")).to_have_text("Fund explorer")
    assert all(private["d"] not in body for body in posted)  # the private key never left the browser
    client_id = page.get_by_test_id("client-id").inner_text()
    assert client_id.startswith("sbx_")
    expect(page.get_by_test_id("kid")).to_have_text(private["kid"])
    expect(page.get_by_test_id("issuer")).to_have_text(f"{real.base_url}/sandbox")
    screenshot(page, "app")

    # 3. the page's quickstart, run as the developer would: a private_key_jwt token, one sandbox call
    funds = run_quickstart(page.get_by_test_id("quickstart").inner_text(), tmp_path)
    assert funds["data"], funds

    # 4. the call shows in the usage chart (the serving worker flushes within its interval)
    page.get_by_test_id("tab-usage").click()
    deadline = time.monotonic() + USAGE_SECONDS
    while page.get_by_test_id("usage-listFunds").count() == 0 and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    expect(page.get_by_test_id("usage-listFunds")).to_be_visible()
    expect(page.get_by_test_id("usage-requests")).to_have_text("1")
    bar = page.locator('[data-testid="usage-chart"] rect[data-operation="listFunds"]')
    expect(bar).to_have_count(1)
    assert bar.get_attribute("data-count") == "1"
    screenshot(page, "usage")

    # 5. webhooks (none yet) and sign-out
    page.get_by_test_id("tab-webhooks").click()
    expect(page.get_by_test_id("subscriptions-empty")).to_be_visible()
    screenshot(page, "webhooks")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-heading")).to_be_visible()
    page.goto(f"{real.base_url}/portal/apps/{client_id}")
    expect(page.get_by_test_id("login-heading")).to_be_visible()


def test_the_quickstart_of_a_signed_up_developer_runs_against_the_real_server(
    servers: dict[str, RealServer], tmp_path: Path
) -> None:
    """The same path without a browser (a pasted key), on both backends and over TCP with two workers."""
    for backend, real in servers.items():
        with httpx.Client(base_url=real.base_url, timeout=30) as http:
            browser = CookieBrowser(http)
            signup = browser.request("GET", "/portal/signup")
            form = {
                "email": f"linus.{secrets.token_hex(4)}@example.com",
                "organisation": f"Torvalds Tools {secrets.token_hex(3)}",
                "region": "EU",
                "password": PASSWORD,
                "csrf_token": hidden(signup.text, "csrf_token"),
            }
            assert browser.request("POST", "/portal/signup", data=form).status_code == 303, backend
            new = browser.request("GET", "/portal/apps/new")
            private = new_private_jwk()
            created = browser.request(
                "POST",
                "/portal/apps",
                data={
                    "name": "CLI app",
                    "scopes": ["market:read"],
                    "key_source": "upload",
                    "jwk": json.dumps(public_part(private)),
                    "csrf_token": hidden(new.text, "csrf_token"),
                },
            )
            assert created.status_code == 303, created.text
            page = browser.follow(created.headers["location"])
            code = re.search(r'data-testid="quickstart">(.*?)</code>', page.text, re.S)
            assert code, page.text
            folder = tmp_path / backend
            folder.mkdir()
            (folder / f"{private['kid']}.private.jwk.json").write_text(json.dumps(private))

            instruments = run_quickstart(unescape(code.group(1)), folder)

            assert instruments["data"], instruments
            usage_url = created.headers["location"].split("?")[0] + "/usage"
            deadline = time.monotonic() + USAGE_SECONDS
            usage = browser.request("GET", usage_url)
            while 'data-testid="usage-listInstruments"' not in usage.text and time.monotonic() < deadline:
                time.sleep(1)
                usage = browser.request("GET", usage_url)
            assert 'data-operation="listInstruments" data-count="1"' in usage.text, backend
