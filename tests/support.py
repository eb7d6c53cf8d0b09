"""Test helpers: partners and apps made through the real registry, tokens from the real endpoint."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

import httpx
from litestar.testing import TestClient
from openplatform import Client, ClientAssertionSigner, DPoPKey
from openplatform._core.jose import PrivateKey

from gateway.demo import new_private_jwk, public_part
from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from gateway.storage.database import Database
from partners.models import PartnerType

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALL_INSTITUTION_SCOPES = (
    Scope.MARKET_READ,
    Scope.FUNDS_READ,
    Scope.COMPLIANCE_SUITABILITY,
    Scope.COMPLIANCE_SCREENING,
)


@dataclass
class PartnerApp:
    client_id: str
    partner_id: str
    private_jwk: dict[str, Any]
    environment: Environment
    issuer: str
    clock: Clock
    scopes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth2/token"

    @property
    def prefix(self) -> str:
        return self.environment.path_prefix

    def epoch(self) -> float:
        """The platform's clock as the SDK reads clocks: seconds since the epoch."""
        return self.clock.now().timestamp()

    @property
    def signer(self) -> ClientAssertionSigner:
        """The SDK's `private_key_jwt` signer for this app, at the platform's clock."""
        return ClientAssertionSigner(self.client_id, self.private_jwk, self.issuer, clock=self.epoch)

    def assertion(self, **overrides: Any) -> str:
        """A client assertion; a claim given as None is left out, `header=` changes the header."""
        header = overrides.pop("header", None)
        return self.signer.sign(claims=overrides, header=header)

    def token_form(self, assertion: str | None = None, scope: str | None = None) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or self.assertion(),
        }
        if scope:
            form["scope"] = scope
        return form

    @property
    def holder(self) -> Holder:
        """The app's DPoP key: production apps must hold DPoP-bound tokens."""
        return DPOP_CLIENTS.setdefault(self.client_id, Holder(self.clock))

    def token(self, client: TestClient[Any], scope: str | None = None) -> str:
        headers = {}
        if self.environment is Environment.PRODUCTION:
            headers["DPoP"] = self.holder.proof("POST", self.token_endpoint)
        response = client.post(
            f"{self.prefix}/oauth2/token", data=self.token_form(scope=scope), headers=headers
        )
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        if self.environment is Environment.PRODUCTION:
            DPOP_HOLDERS[value] = self.holder
        return value

    def headers(self, client: TestClient[Any], scope: str | None = None) -> dict[str, str]:
        """Authorization for later calls; a production token's DPoP proof is added per request by
        `sign_dpop`, the test clients' request hook (a proof names the method and URL it is for)."""
        token = self.token(client, scope)
        scheme = "DPoP" if self.environment is Environment.PRODUCTION else "Bearer"
        return {"Authorization": f"{scheme} {token}"}

    def sdk(self, http: httpx.Client, **options: Any) -> Client:
        """The SDK's client of this app over `http` (a test client of the app).

        A production app's client proves possession of the app's holder key, the key `token()` binds
        its tokens to; a sandbox app's client makes its own DPoP key. No retries unless asked for.
        """
        production = self.environment is Environment.PRODUCTION
        settings: dict[str, Any] = {"max_retries": 0, "dpop_key": self.holder.dpop if production else None}
        return Client(
            self.client_id,
            self.private_jwk,
            base_url=self.issuer.removesuffix(self.prefix),
            http_client=http,
            allow_insecure_loopback=True,
            clock=self.epoch,
            **(settings | options),
        )


def register_app(
    platform: Platform,
    *,
    partner_type: PartnerType = PartnerType.INSTITUTION,
    environment: Environment = Environment.PRODUCTION,
    scopes: tuple[Scope, ...] = ALL_INSTITUTION_SCOPES,
    plan: str = "enterprise",
    operator: bool = False,
    partner_id: str | None = None,
    redirect_uris: tuple[str, ...] = (),
    region: str = "CN",
) -> PartnerApp:
    registry = platform.registry
    if partner_id is None:
        partner = registry.create_partner(
            name=f"Test partner {secrets.token_hex(6)}", type=partner_type, region=region, operator=operator
        )
        partner_id = partner.id
    private = new_private_jwk()
    app = registry.create_app(
        partner_id=partner_id,
        name="test app",
        environment=environment,
        jwks={"keys": [public_part(private)]},
        scopes=[s.value for s in scopes],
        plan_id=plan,
        redirect_uris=redirect_uris,
    )
    if environment is Environment.PRODUCTION:
        DPOP_CLIENTS[app.client_id] = Holder(platform.clock)
    return PartnerApp(
        client_id=app.client_id,
        partner_id=partner_id,
        private_jwk=private,
        environment=environment,
        issuer=platform.settings.issuer(environment),
        clock=platform.clock,
        scopes=tuple(sorted(app.scopes)),
    )


def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def staff_app(platform: Platform) -> PartnerApp:
    """An app of the operator's own partner, holding every staff scope."""
    return register_app(
        platform,
        partner_type=PartnerType.SERVICE_PROVIDER,
        scopes=(Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT, Scope.ADMIN_COMPLIANCE),
        operator=True,
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: str, index: int) -> dict[str, Any]:
    """Decode one part (0 header, 1 claims) of a compact JWS without verifying it."""
    part = value.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


class Holder:
    """A client's DPoP key (the SDK's `DPoPKey`), signing proofs at the platform's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.dpop = DPoPKey(clock=lambda: clock.now().timestamp())

    @property
    def key(self) -> PrivateKey:
        return self.dpop.key

    @property
    def jkt(self) -> str:
        return self.dpop.thumbprint

    def proof(
        self,
        htm: str,
        htu: str,
        *,
        token: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A proof for `htm` `htu` (with `ath` for `token`); a claim or header member given as None
        is left out, any other replaces the one the SDK would sign."""
        return self.dpop.proof(htm, htu, access_token=token, claims=claims, header=header)


# The test clients behave like a DPoP-capable partner SDK (RFC 9449): production apps must hold
# DPoP-bound tokens, so every token request of a production test app gets a proof of its key, and
# every call with one of its tokens gets a fresh proof naming the call's method, URL and token.
# A request with `X-Test-Plain: 1` is sent as written (for the tests of what happens without), and so
# is one that carries its own proof (a test's, or the SDK's: `PartnerApp.sdk` clients sign for themselves).
DPOP_CLIENTS: dict[str, Holder] = {}
DPOP_HOLDERS: dict[str, Holder] = {}
SIGNED_PROOFS: set[str] = set()
PLAIN: Final = "x-test-plain"
DPOP_ENDPOINTS: Final = ("/oauth2/token", "/oauth2/par")


def sign_dpop(request: httpx.Request) -> None:
    """An httpx request hook (see above)."""
    if request.headers.pop(PLAIN, None) is not None or "dpop" in request.headers:
        return
    url = str(request.url.copy_with(query=None, fragment=None))
    if request.method == "POST" and request.url.path.endswith(DPOP_ENDPOINTS):
        client_id = parse_qs(request.content.decode("latin-1")).get("client_id", [""])[0]
        holder = DPOP_CLIENTS.get(client_id)
        if holder is not None:
            request.headers["DPoP"] = holder.proof("POST", url)
            SIGNED_PROOFS.add(request.headers["DPoP"])
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    holder = DPOP_HOLDERS.get(token)
    if holder is not None and scheme.lower() in ("bearer", "dpop"):
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = holder.proof(request.method, url, token=token)


def remember_dpop_tokens(response: httpx.Response) -> None:
    """An httpx response hook: a DPoP-bound token issued to a test app is signed for from now on."""
    request = response.request
    if (
        request.method != "POST"
        or not request.url.path.endswith("/oauth2/token")
        or response.status_code != 200
    ):
        return
    if request.headers.get("dpop") not in SIGNED_PROOFS:
        return  # the test signed its own proof: its key, not the app's
    client_id = parse_qs(request.content.decode("latin-1")).get("client_id", [""])[0]
    holder = DPOP_CLIENTS.get(client_id)
    response.read()
    body = response.json()
    if holder is not None and body.get("token_type") == "DPoP":
        DPOP_HOLDERS[body["access_token"]] = holder


def dpop_capable(client: httpx.Client) -> None:
    client.event_hooks["request"].append(sign_dpop)
    client.event_hooks["response"].append(remember_dpop_tokens)


def dpop_capable_async(client: httpx.AsyncClient) -> None:
    async def on_request(request: httpx.Request) -> None:
        sign_dpop(request)

    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        remember_dpop_tokens(response)

    client.event_hooks["request"].append(on_request)
    client.event_hooks["response"].append(on_response)


def database_of(platform: Platform, environment: Environment) -> Database:
    """The SQL database behind an environment of the app, for tests that read or write it directly."""
    connections = platform.environments[environment].database
    assert isinstance(connections, Database)
    return connections
