"""Every error leaves as an RFC 9457 problem (`application/problem+json`), mapped here once.

OAuth endpoints are the exception: they keep RFC 6749 §5.2 `{"error": ...}` bodies from authlib.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from gateway.domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    NotFoundError,
    RuleViolationError,
)
from gateway.domain.trading.errors import AccountRestrictedError, OrderLimitExceededError
from gateway.edge.idempotency import IdempotencyConflictError, IdempotencyKeyReusedError
from gateway.edge.quotas import QuotaExceededError
from partners.webhooks.errors import WebhookUrlError

log = logging.getLogger("gateway.problems")
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem; extension members name the field or rule that failed."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    context: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    title: str
    description: str


PROBLEM_TYPES: Final[dict[str, ProblemType]] = {
    "bad-request": ProblemType(400, "Bad request", "The request is malformed."),
    "validation-failed": ProblemType(
        422,
        "Validation failed",
        "A field is missing, unknown, of the wrong type or out of range; see `errors`.",
    ),
    "unauthorized": ProblemType(
        401, "Unauthorized", "No valid access token: missing, expired, revoked, or for another environment."
    ),
    "forbidden": ProblemType(403, "Forbidden", "The access token does not allow this operation."),
    "limit-exceeded": ProblemType(
        403,
        "Consent limit exceeded",
        "The customer's consent does not allow this much; `context.limit` names it.",
    ),
    "account-restricted": ProblemType(
        403, "Account restricted", "Compliance restricted the account: no new orders until it is cleared."
    ),
    "not-found": ProblemType(404, "Not found", "No such resource is visible to the caller."),
    "method-not-allowed": ProblemType(
        405, "Method not allowed", "The resource does not support this method."
    ),
    "conflict": ProblemType(409, "Conflict", "The request conflicts with the current state of the resource."),
    "idempotency-in-progress": ProblemType(
        409, "Request in progress", "A request with the same Idempotency-Key is still running; retry shortly."
    ),
    "gone": ProblemType(
        410,
        "Gone",
        "The operation reached its sunset date (RFC 8594); the `Link` header and `context.link` "
        "document its replacement.",
    ),
    "payload-too-large": ProblemType(
        413, "Payload too large", "The request body exceeds the gateway's limit."
    ),
    "unsupported-media-type": ProblemType(415, "Unsupported media type", "Send application/json."),
    "idempotency-key-reused": ProblemType(
        422, "Idempotency-Key reused", "The Idempotency-Key was first used with a different request."
    ),
    "unsafe-webhook-url": ProblemType(
        422,
        "Webhook URL refused",
        "The endpoint could reach a private, loopback or metadata address, or breaks a URL rule; "
        "`context.field` and `context.rule` name it.",
    ),
    "rule-violation": ProblemType(
        422, "Rule violation", "A business rule refused the request; see `context`."
    ),
    "rate-limited": ProblemType(
        429, "Too many requests", "The plan's rate limit is exhausted; see Retry-After."
    ),
    "quota-exceeded": ProblemType(
        429,
        "Quota exceeded",
        "A business quota of the plan or a pilot cap is used up; `context.quota` names it and "
        "Retry-After says when it refills (403 for the pilot's customer cap, which does not refill).",
    ),
    "internal-error": ProblemType(
        500, "Internal error", "Something failed on our side; quote the request_id."
    ),
    "unavailable": ProblemType(503, "Service unavailable", "A dependency is unavailable; retry later."),
}
# Looked up along the exception's MRO, so a subclass inherits its base's problem type. Every
# domain error derives from one of the four bases below; the bare `DomainError` is deliberately
# absent, so an error outside them has no problem type and the test of this table fails.
DOMAIN_PROBLEMS: Final[dict[type[DomainError], str]] = {
    WebhookUrlError: "unsafe-webhook-url",
    OrderLimitExceededError: "limit-exceeded",
    AccountRestrictedError: "account-restricted",
    ForbiddenError: "forbidden",
    NotFoundError: "not-found",
    ConflictError: "conflict",
    RuleViolationError: "rule-violation",
}
HTTP_PROBLEMS: Final[dict[type[HTTPException], str]] = {
    IdempotencyKeyReusedError: "idempotency-key-reused",
    IdempotencyConflictError: "idempotency-in-progress",
    QuotaExceededError: "quota-exceeded",
}
STATUS_PROBLEMS: Final[dict[int, str]] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "rate-limited",
    503: "unavailable",
}


def problem_type_uri(request: Request[Any, Any, Any], slug: str) -> str:
    return f"{request.app.state.settings.base_url}/problems/{slug}"


def problem_response(
    request: Request[Any, Any, Any],
    slug: str,
    detail: str,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
) -> Response[bytes]:
    kind = PROBLEM_TYPES[slug]
    problem = Problem(
        type=problem_type_uri(request, slug),
        title=kind.title,
        status=status or kind.status,
        detail=detail,
        instance=request.scope.get("path"),
        request_id=request.scope.get("state", {}).get("request_id"),
        errors=errors,
        context=context or None,
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_slug(error: type[Exception], table: Mapping[type[Any], str]) -> str | None:
    """The problem type of the nearest class in the error's MRO that the table maps."""
    return next((table[kind] for kind in error.__mro__ if kind in table), None)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    slug = problem_slug(type(exc), DOMAIN_PROBLEMS)
    if slug is None:  # a defect: tests/gateway/test_problems.py proves every domain error is mapped
        return internal_error_handler(request, exc)
    return problem_response(request, slug, exc.detail, context=_jsonable(exc.context))


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors = [_field_error(item) for item in exc.extra] if isinstance(exc.extra, list) else []
    if any("malformed" in error["message"].lower() for error in errors) or "malformed" in exc.detail.lower():
        return problem_response(request, "bad-request", "the request body is not valid JSON", errors=errors)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or exc.detail
    return problem_response(request, "validation-failed", detail, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    slug = problem_slug(type(exc), HTTP_PROBLEMS) or STATUS_PROBLEMS.get(exc.status_code, "bad-request")
    if exc.status_code >= 500:
        slug = STATUS_PROBLEMS.get(exc.status_code, "internal-error")
    context = exc.extra if isinstance(exc.extra, dict) else None
    return problem_response(
        request, slug, exc.detail, status=exc.status_code, headers=exc.headers or None, context=context
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    return problem_response(request, "internal-error", "an unexpected error occurred; quote the request_id")


def _field_error(item: Any) -> dict[str, Any]:
    """Name the failing field as a dotted path: `customer.status`, `amount.amount`, `limit`."""
    if not isinstance(item, dict):
        return {"field": "body", "message": str(item)}
    message = str(item.get("message", "invalid value"))
    source = item.get("source", "body")
    key = str(item.get("key") or "")
    if source == "body" and key == "data":
        key = ""  # Litestar names the body's root after the handler's `data` parameter
    path = _path_of(message)
    if path and key and (path == key or path.startswith(key + ".")):
        key = ""
    parts = [part for part in (key, path, _named_field(message)) if part]
    return {"field": ".".join(parts) or "body", "message": message, "source": source}


def _named_field(message: str) -> str | None:
    # msgspec names a missing or unknown member itself: "Object contains unknown field `status`".
    for marker in ("Object contains unknown field `", "Object missing required field `"):
        if message.startswith(marker):
            return message[len(marker) :].split("`", 1)[0]
    return None


def _path_of(message: str) -> str | None:
    # msgspec names the JSON path of the offending value: "... - at `$.customer.risk_level`".
    marker = " - at `$"
    if marker not in message:
        return None
    path = message.split(marker, 1)[1].rstrip("`").lstrip(".")
    return path.replace("[", ".").replace("]", "") or None


def _jsonable(context: Any) -> dict[str, Any]:
    return {
        str(k): v if isinstance(v, str | int | float | bool | list | type(None)) else str(v)
        for k, v in context.items()
    }


EXCEPTION_HANDLERS: Final = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
