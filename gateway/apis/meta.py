"""Public meta routes: liveness and the problem type documentation that `type` URIs point to."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from gateway.apis.schemas import PUBLIC_PROBLEMS
from gateway.edge.access import public
from gateway.problems import PROBLEM_TYPES


class Liveness(msgspec.Struct, frozen=True):
    status: Literal["ok"] = "ok"


class ProblemTypeOut(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    status: int
    title: str
    description: str


@get(
    "/livez",
    operation_id="getLiveness",
    summary="Liveness (also the bench baseline)",
    tags=["meta"],
    **public(),
)
async def livez() -> Liveness:
    return Liveness()


@get(
    "/problems/{slug:str}",
    operation_id="getProblemType",
    summary="Documentation of a problem type",
    tags=["meta"],
    responses=PUBLIC_PROBLEMS,
    **public(),
)
async def problem_type(slug: FromPath[str]) -> ProblemTypeOut:
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise NotFoundException(detail=f"no problem type {slug!r}")
    return ProblemTypeOut(slug=slug, status=kind.status, title=kind.title, description=kind.description)


ROUTES = [livez, problem_type]
