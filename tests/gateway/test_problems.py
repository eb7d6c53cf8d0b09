"""Every error the domain or the edge raises has a documented problem type, mapped by its type."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from litestar.exceptions import HTTPException

from gateway.domain.errors import DomainError
from gateway.problems import DOMAIN_PROBLEMS, HTTP_PROBLEMS, PROBLEM_TYPES, STATUS_PROBLEMS, problem_slug

PACKAGES = ("gateway", "partners", "sandbox")


def _import_everything() -> None:
    for root in PACKAGES:
        package = importlib.import_module(root)
        for module in pkgutil.walk_packages(package.__path__, f"{root}."):
            if ".migrations." not in module.name:
                importlib.import_module(module.name)


def _subclasses(root: type) -> Iterator[type]:
    kind: type
    for kind in root.__subclasses__():
        if kind.__module__.split(".")[0] in PACKAGES:
            yield kind
        yield from _subclasses(kind)


@pytest.fixture(scope="module")
def loaded() -> None:
    _import_everything()


@pytest.mark.usefixtures("loaded")
def test_every_domain_error_has_a_documented_problem_type() -> None:
    errors = set(_subclasses(DomainError))
    assert len(errors) > 40  # the walk really found the domain's errors
    unmapped = sorted(kind.__qualname__ for kind in errors if problem_slug(kind, DOMAIN_PROBLEMS) is None)
    assert unmapped == []
    for kind in errors:
        assert problem_slug(kind, DOMAIN_PROBLEMS) in PROBLEM_TYPES, kind


@pytest.mark.usefixtures("loaded")
def test_every_http_error_of_the_gateway_has_a_documented_problem_type() -> None:
    errors = set(_subclasses(HTTPException))
    assert set(HTTP_PROBLEMS) <= errors
    for kind in errors:
        status = getattr(kind, "status_code", 400)
        slug = problem_slug(kind, HTTP_PROBLEMS) or STATUS_PROBLEMS.get(status)
        assert slug in PROBLEM_TYPES, kind
        assert PROBLEM_TYPES[slug].status == status, kind


def test_a_domain_error_outside_the_mapped_bases_is_caught() -> None:
    class StrayError(DomainError):
        """Derives from the bare base, which has no problem type on purpose."""

    assert problem_slug(StrayError, DOMAIN_PROBLEMS) is None


def test_a_subclass_inherits_the_problem_type_of_its_nearest_mapped_base() -> None:
    from gateway.domain.points.errors import PointsLimitExceededError

    assert problem_slug(PointsLimitExceededError, DOMAIN_PROBLEMS) == "limit-exceeded"
