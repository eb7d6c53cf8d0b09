"""schemathesis over every operation of the app in-process: all built-in checks, fixed seed, SQLite.

The schema is the one the app serves (`/docs/openapi.json`); `test_openapi.py` shows it is the
committed `openapi/v1.json` at another base URL. Two partner institutions are declared peers, so
`object_level_authorization` replays one partner's reads as the other.
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, TypeAlias

import hypothesis
import msgspec
import pytest
import schemathesis
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from litestar.testing import TestClient
from schemathesis.core.result import Ok
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from gateway.apis.schemas import unprocessable_description
from gateway.app import create_app
from gateway.domain.paging import encode_cursor
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from gateway.services import Platform
from gateway.settings import Settings
from gateway.storage.migrate import prepare
from openapi.spec import LINKS
from sandbox.clock import FrozenClock
from tests.support import ALL_INSTITUTION_SCOPES, register_app, staff_app

Case: TypeAlias = schemathesis.Case[Any]
BASE_URL: Final = "http://127.0.0.1:8000"
SEED: Final = 20261121
MAX_EXAMPLES: Final = 50  # per operation, fuzzing phase; examples and coverage cases come on top
STATEFUL_SCENARIOS: Final = 30  # each on a fresh copy of the databases (~0.7 s apiece)
STATEFUL_STEPS: Final = 8
LINK_WALKS: Final = 10  # the bounded walk along the published links that runs in every `make test`
LINK_WALK_STEPS: Final = 6
PEERS: Final = ("partner_a", "partner_b")
AUTHORIZATION: Final = "Authorization"
IDEMPOTENCY_KEY: Final = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH: Final = 255
ACCEPTED: Final = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")  # schemathesis' default
# Every check schemathesis ships; a new built-in check fails the guard below until it is listed here.
ALL_CHECKS: Final = frozenset(
    {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "positive_data_acceptance",
        "negative_data_rejection",
        "use_after_free",
        "ensure_resource_availability",
        "missing_required_header",
        "ignored_auth",
        "object_level_authorization",
        "unsupported_method",
        "allow_header_conformance",
    }
)

# Everything is built at import: `schema.parametrize()` needs the operations at collection time (the
# lazy `schemathesis.pytest.from_fixture` loader does not run under pytest 9: it sets
# `Function._nodeid`), and the peers' credentials must be in the config the schema is loaded with.
# The clock is frozen, so tokens minted at collection are still valid whenever the tests run.
WORK_DIR: Final = Path(tempfile.mkdtemp(prefix="gateway-schemathesis-"))
atexit.register(shutil.rmtree, WORK_DIR, ignore_errors=True)
NOW: Final = datetime.now(UTC).replace(microsecond=0)
# DPoP is proven in tests/gateway/edge/test_dpop_calls.py and tests/gateway/web; schemathesis cannot
# sign a proof per request, so this run lets production apps use bearer tokens (a setting no environment
# variable sets).
# No webhook delivery task: fuzzed endpoint URLs must not be resolved and called from the test run.
# No background jobs either: the run is its own clock-frozen world.
SETTINGS: Final = Settings(
    base_url=BASE_URL,
    var_dir=WORK_DIR / "var",
    production_requires_dpop=False,
    webhooks_embedded=False,
    background_jobs=False,
)
prepare(SETTINGS)
APP: Final = create_app(SETTINGS, clock=FrozenClock(NOW))


def _bearer_tokens() -> dict[str, str]:
    """Two institutions with every partner scope and one staff app, all on the enterprise plan."""
    platform: Platform = APP.state.platform
    scopes = (
        *ALL_INSTITUTION_SCOPES,
        Scope.CONSENTS_MANAGE,
        Scope.PARTNER_MANAGE,
        Scope.WEBHOOKS_MANAGE,
        *sorted(CUSTOMER_DELEGATED),
    )
    apps = {
        name: register_app(platform, scopes=scopes, redirect_uris=("https://peer.example/cb",))
        for name in PEERS
    }
    apps["staff"] = staff_app(platform)
    with TestClient(app=APP, base_url=BASE_URL) as client:
        # No DPoP proof: bearer tokens, which this run's settings allow (see SETTINGS).
        issued = {
            name: client.post("/oauth2/token", data=app.token_form()).json() for name, app in apps.items()
        }
    assert {body["token_type"] for body in issued.values()} == {"Bearer"}
    return {name: f"Bearer {body['access_token']}" for name, body in issued.items()}


TOKENS: Final = _bearer_tokens()
PRISTINE: Final = shutil.copytree(SETTINGS.var_dir, WORK_DIR / "pristine")  # databases and signing keys
WFC_AUTH: Final = WORK_DIR / "wfc-auth.json"  # Web Fuzzing Commons: one entry per identity
WFC_AUTH.write_text(
    json.dumps(
        {
            "auth": [
                {"name": name, "fixedHeaders": [{"name": AUTHORIZATION, "value": TOKENS[name]}]}
                for name in PEERS
            ]
        }
    )
)
RULE_CHECKED: Final = sorted(
    operation.operation_id
    for item in (APP.openapi_schema.paths or {}).values()
    for method in ("get", "put", "post", "patch", "delete")
    if (operation := getattr(item, method)) is not None
    and operation.operation_id is not None
    and (response := (operation.responses or {}).get("422")) is not None
    and unprocessable_description(()) != getattr(response, "description", None)
)
CONFIG: Final = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
        },
        "auth": {"wfc": {"path": str(WFC_AUTH), "peers": list(PEERS)}},
        # Business rules the schema cannot state answer a 422 that the operation's spec documents
        # (`problems(rules=...)`): a page cursor the API never handed out, a permission the app does
        # not hold, a name without two letters, ... Every other operation must accept every
        # schema-valid request.
        "operations": [
            {
                "include-operation-id": operation_id,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
            }
            for operation_id in RULE_CHECKED
        ]
        + [
            # The catalogue is public reference data, the same for every partner: nobody owns an
            # instrument, so another partner reading one is no object-level authorization bypass.
            {
                "include-operation-id": "getInstrument",
                "checks": {"object_level_authorization": {"enabled": False}},
            },
            # `/v1/app/keys` names no object: each app reads its own keys, so a peer's 200 is its own.
            {
                "include-operation-id": "listAppKeys",
                "checks": {"object_level_authorization": {"enabled": False}},
            },
            # `/v1/usage` names no object either: each app reads its own usage.
            {
                "include-operation-id": "getUsage",
                "checks": {"object_level_authorization": {"enabled": False}},
            },
        ],
    }
)
# Page cursors are opaque: generate the ones the API itself hands out (every keyset position).
schemathesis.openapi.format(
    "page-cursor",
    st.sampled_from([encode_cursor(item.id) for item in APP.state.platform.catalogue]),
)
schema = schemathesis.openapi.from_asgi("/docs/openapi.json", APP, config=CONFIG)
KEY_SUFFIXES: Final = itertools.count(1)


def prepare_case(case: Case) -> dict[str, str]:
    """Credentials as a real client sends them; returns the headers to send explicitly.

    Partner operations carry the first peer's token (from the WFC document), staff operations the
    staff token, public ones none at all.
    """
    if not case.operation.definition.raw.get("security"):
        case.headers.pop(AUTHORIZATION, None)
    make_idempotency_key_unique(case)
    return {AUTHORIZATION: TOKENS["staff"]} if case.operation.path.startswith("/admin/") else {}


def make_idempotency_key_unique(case: Case) -> None:
    """Independent examples draw keys from a tiny space ("0"), so two different bodies would share
    a key and rightly get 422 `idempotency-key-reused` (tests/gateway/edge/test_idempotency.py covers that).
    Real clients send one key per request: keep the drawn characters, add a unique suffix, and
    leave over-long keys alone (the negative cases that must be refused)."""
    key = case.headers.get(IDEMPOTENCY_KEY)
    if key is None or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        return
    suffix = f".{next(KEY_SUFFIXES)}"
    case.headers[IDEMPOTENCY_KEY] = key[: MAX_IDEMPOTENCY_KEY_LENGTH - len(suffix)] + suffix


def test_every_builtin_check_is_enabled() -> None:
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    assert set(CHECKS.get_all_names()) == ALL_CHECKS
    config = schema.config.checks_config_for()
    assert all(config.get_by_name(name=name).enabled for name in ALL_CHECKS)


def test_every_operation_is_tested() -> None:
    labels = {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}
    paths = APP.openapi_schema.paths or {}
    published = {
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method in ("get", "put", "post", "patch", "delete")
        if getattr(item, method) is not None
    }
    assert labels == published
    assert len(labels) >= 24


@pytest.mark.slow
@schema.parametrize()
def test_api_conforms_to_its_schema(case: Case) -> None:
    case.call_and_validate(headers=prepare_case(case))


SCENARIOS: Final = itertools.count(1)


def fresh_app() -> Any:
    """The app on a copy of the databases as they were before any test: same identities and keys."""
    var_dir = shutil.copytree(PRISTINE, WORK_DIR / f"scenario-{next(SCENARIOS)}")
    return create_app(SETTINGS.with_changes(var_dir=var_dir), clock=FrozenClock(NOW))


class FreshAppCalls:
    """Calls as a client would make them, each scenario against its own copy of the databases.

    A scenario may suspend the partners whose tokens the run uses, or take a partner name, and
    Hypothesis replays a scenario expecting the same answers.
    """

    recorder: Any  # the state machine's, for the checks

    def setup(self) -> None:
        self.app = fresh_app()

    def before_call(self, case: Case) -> None:
        self.explicit_headers = prepare_case(case)

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        return {"headers": self.explicit_headers, "app": self.app}

    def validate_response(
        self, response: Any, case: Case, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        # As `call_and_validate` does: the checks learn which headers carried the credentials.
        case.validate_response(
            response,
            additional_checks=additional_checks,
            headers=kwargs.get("headers"),
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


class APIWorkflow(FreshAppCalls, schema.as_state_machine()):  # type: ignore[misc]
    """Chains operations along the links published and inferred (create, then read, suspend, ...)."""


def test_the_state_machine_follows_every_published_link() -> None:
    """The links of `openapi/spec.py` reach schemathesis as transitions (named after their target)."""
    transitions = APIWorkflow._transitions.operations
    followed = {
        (label, link.name, link.target.label)
        for label, operation in transitions.items()
        for link in operation.outgoing
    }
    for link in LINKS:
        source = schema.find_operation_by_id(link.source).label
        target = schema.find_operation_by_id(link.target).label
        assert (source, link.target, target) in followed, f"{link.source} -> {link.target}"


# Links between operations that the run's identities can call: the ones that act for a customer
# (orders, points, proposals) need a token delegated by a customer, which schemathesis cannot obtain.
WALKED_LINKS: Final = tuple(
    link
    for link in LINKS
    if link.source
    in {
        "createConsent",
        "listConsents",
        "createScreening",
        "createSuitabilityCheck",
        "createWebhookSubscription",
        "listWebhookSubscriptions",
        "listWebhookDeliveries",
        "listInstruments",
        "getInstrument",
        "listFunds",
        "adminCreatePartner",
        "adminCreateApp",
        "adminListPartners",
        "adminListAlerts",
    }
)
LINKED_OPERATIONS: Final = frozenset(
    {link.source for link in WALKED_LINKS} | {link.target for link in WALKED_LINKS}
)


def linked_schema() -> Any:
    """The served spec cut down to the linked operations: walks that spend no step elsewhere.

    Built from the document, not with `schema.include(...)`: schemathesis 4.32's state machine reads
    every operation of a schema whatever its filters.
    """
    document = msgspec.to_builtins(APP.openapi_schema.to_schema())
    for path, item in list(document["paths"].items()):
        kept = {key: value for key, value in item.items() if value.get("operationId") in LINKED_OPERATIONS}
        if kept:
            document["paths"][path] = kept
        else:
            del document["paths"][path]
    linked = schemathesis.openapi.from_dict(document, config=CONFIG)
    linked.app = APP
    linked.location = "/docs/openapi.json"
    return linked


class LinkWalk(FreshAppCalls, linked_schema().as_state_machine()):  # type: ignore[misc]
    """Short walks among the linked operations (create or list, then read) with every check; notes
    each published link it followed to a 200."""

    followed: ClassVar[set[str]] = set()

    def step(self, input: StepInput) -> StepOutput:
        output: StepOutput = super().step(input)
        transition = input.transition
        # A transition's id reads "GET /v1/consents -> [200] getConsent -> GET /v1/consents/{consent_id}".
        name = transition.id.split(" -> ")[1].split("] ", 1)[-1] if transition is not None else None
        if (
            transition is not None
            and not transition.is_inferred
            and input.applied_parameters
            and output.response.status_code == 200
        ):
            LinkWalk.followed.add(f"{input.case.operation.label} via {name}")
        return output


def test_a_bounded_walk_follows_the_published_links() -> None:
    LinkWalk.followed.clear()
    run_state_machine_as_test(
        LinkWalk,
        settings=hypothesis.settings(
            max_examples=LINK_WALKS,
            stateful_step_count=LINK_WALK_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
        ),
    )
    assert LinkWalk.followed, "no walk followed a published link to a 200"


TestAPIWorkflow = pytest.mark.slow(APIWorkflow.TestCase)
TestAPIWorkflow.settings = hypothesis.settings(
    max_examples=STATEFUL_SCENARIOS,
    stateful_step_count=STATEFUL_STEPS,
    derandomize=True,
    database=None,
    deadline=None,
)


def test_the_identities_are_accepted() -> None:
    """A 401 passes most checks: the run must not have been quietly unauthenticated (runs last, after
    the fuzzers had every staff operation, suspension included, at hand). Sent through schemathesis,
    on the event loop that serves the app."""
    reads = [("/v1/funds", TOKENS[name]) for name in PEERS] + [("/admin/partners", TOKENS["staff"])]
    for path, token in reads:
        response = schema[path]["GET"].Case(headers={AUTHORIZATION: token}).call()
        assert response.status_code == 200, response.text
