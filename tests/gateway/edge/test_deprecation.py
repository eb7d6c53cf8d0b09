"""A deprecated operation says so in the spec and on its responses (RFC 9745, RFC 8594; ADR 0014).

No real operation is deprecated: the app gets one extra route that is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
import pytest
from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.edge.access import public
from gateway.edge.deprecation import Deprecation, deprecated
from gateway.settings import Settings
from gateway.storage.migrate import prepare
from openapi.spec import render
from sandbox.clock import FrozenClock

BASE_URL: Final = "http://127.0.0.1:8000"
# RFC 9745 §2.2's example: deprecated at the end of 30 June 2023 (UTC).
SINCE: Final = datetime(2023, 6, 30, 23, 59, 59, tzinfo=UTC)
# RFC 8594 §3's example sunset, moved into 2024 so that it follows the deprecation.
SUNSET: Final = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
LINK: Final = "https://developer.openplatform.example/deprecations/probe"


class Probe(msgspec.Struct, frozen=True):
    count: int


@get(
    "/v1/probes",
    operation_id="listProbes",
    summary="A deprecated probe",
    tags=["meta"],
    **public(),
    **deprecated(since=SINCE, sunset=SUNSET, link=LINK),
)
async def list_probes(count: Annotated[int, QueryParameter(ge=0, le=10)] = 0) -> Probe:
    if count == 0:
        raise NotFoundException(detail="no probes")
    return Probe(count=count)


def probe_app(tmp_path: Path, now: datetime) -> Litestar:
    settings = Settings(base_url=BASE_URL, var_dir=tmp_path)
    prepare(settings)
    app = create_app(settings, clock=FrozenClock(now))
    app.register(list_probes)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return probe_app(tmp_path, SUNSET - timedelta(days=30))  # deprecated, not yet sunset


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Any]]:
    with TestClient(app=app, base_url=BASE_URL) as client:
        yield client


def test_the_headers_match_the_rfc_examples() -> None:
    headers = dict(Deprecation(since=SINCE, sunset=SUNSET, link=LINK).headers)
    assert headers[b"deprecation"] == b"@1688169599"
    assert headers[b"sunset"] == b"Tue, 31 Dec 2024 23:59:59 GMT"
    assert headers[b"link"] == f'<{LINK}>; rel="deprecation"'.encode()


def test_the_sunset_is_an_http_date_in_gmt_whatever_the_declared_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    sunset = datetime(2025, 1, 1, 8, 59, 59, tzinfo=tokyo)
    value = dict(Deprecation(since=SINCE, sunset=sunset, link=LINK).headers)[b"sunset"].decode()
    assert value == "Tue, 31 Dec 2024 23:59:59 GMT"
    assert parsedate_to_datetime(value) == sunset


@pytest.mark.parametrize(
    ("since", "sunset", "message"),
    [
        (SUNSET, SINCE, "earlier than the deprecation"),
        (SINCE.replace(tzinfo=None), SUNSET, "time zone"),
        (SINCE, SUNSET.replace(tzinfo=None), "time zone"),
    ],
)
def test_a_declaration_without_zones_or_with_the_sunset_first_is_refused(
    since: datetime, sunset: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Deprecation(since=since, sunset=sunset, link=LINK)


@pytest.mark.parametrize(("query", "status"), [("?count=3", 200), ("", 404), ("?count=11", 422)])
def test_every_answer_of_the_deprecated_operation_carries_the_headers(
    client: TestClient[Any], query: str, status: int
) -> None:
    response = client.get(f"/v1/probes{query}")
    assert response.status_code == status, response.text
    assert response.headers["deprecation"] == "@1688169599"
    assert parsedate_to_datetime(response.headers["sunset"]) == SUNSET
    assert response.headers["link"] == f'<{LINK}>; rel="deprecation"'


def test_the_sandbox_answers_the_same_headers(client: TestClient[Any]) -> None:
    response = client.get("/sandbox/v1/probes?count=1")
    assert response.status_code == 200, response.text
    assert response.headers["deprecation"] == "@1688169599"


def test_operations_that_are_not_deprecated_carry_none(client: TestClient[Any]) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert {"deprecation", "sunset", "link"}.isdisjoint(response.headers)


def test_the_spec_marks_the_operation_and_publishes_the_dates(app: Litestar) -> None:
    document = msgspec.json.decode(render(app.openapi_schema))
    operation = document["paths"]["/v1/probes"]["get"]
    assert operation["deprecated"] is True
    assert operation["x-deprecated-at"] == SINCE.isoformat()
    assert operation["x-sunset"] == SUNSET.isoformat()
    assert operation["x-deprecation-link"] == LINK
    livez = document["paths"]["/livez"]["get"]
    assert livez["deprecated"] is False
    assert "x-sunset" not in livez


def test_no_real_operation_is_deprecated(tmp_path: Path) -> None:
    settings = Settings(base_url=BASE_URL, var_dir=tmp_path)
    document = msgspec.json.decode(render(create_app(settings).openapi_schema))
    marked = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and (operation.get("deprecated") or "x-sunset" in operation)
    ]
    assert marked == []


@pytest.mark.parametrize("after", [timedelta(0), timedelta(days=400)])
def test_from_its_sunset_the_operation_is_gone(tmp_path: Path, after: timedelta) -> None:
    with TestClient(app=probe_app(tmp_path, SUNSET + after), base_url=BASE_URL) as client:
        response = client.get("/v1/probes", params={"count": 1})
    assert response.status_code == 410
    problem = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/gone"
    assert problem["context"] == {"link": LINK, "sunset": SUNSET.isoformat()}
    assert response.headers["sunset"] == "Tue, 31 Dec 2024 23:59:59 GMT"
    assert response.headers["link"] == f'<{LINK}>; rel="deprecation"'
