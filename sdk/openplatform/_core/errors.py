"""RFC 9457 problems and OAuth errors as typed exceptions that keep the whole answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from openplatform._core.retries import retry_after_seconds


class OpenPlatformError(Exception):
    """Every error the SDK raises."""


class ConfigurationError(OpenPlatformError, ValueError):
    """The client was set up in a way that could leak credentials or reach the wrong environment."""


class RequestValidationError(OpenPlatformError, ValueError):
    """A value does not match the API's schema; nothing was sent."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class APIConnectionError(OpenPlatformError):
    """No answer came back: the connection failed or was cut (after the retries)."""

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """No answer came back in time (after the retries)."""


class APIError(OpenPlatformError):
    """The API answered with an error status; every member of the problem is kept."""

    status_class: ClassVar[int | None] = None
    slug: ClassVar[str | None] = None

    def __init__(self, response: httpx.Response, problem: Mapping[str, Any] | None) -> None:
        self.response = response
        self.status: int = response.status_code
        self.body: bytes = response.content
        self.problem: dict[str, Any] = dict(problem or {})
        context = self.problem.get("context") or {}
        errors = self.problem.get("errors") or []
        self.type: str | None = _text(self.problem.get("type"))
        self.title: str = _text(self.problem.get("title")) or response.reason_phrase or f"HTTP {self.status}"
        self.detail: str = (
            _text(self.problem.get("detail"))
            or _text(self.problem.get("error_description"))
            or ("" if problem is not None else _snippet(response))
        )
        self.errors: list[dict[str, Any]] = [e for e in errors if isinstance(e, dict)]
        self.context: dict[str, Any] = dict(context) if isinstance(context, dict) else {}
        first = self.errors[0] if self.errors else {}
        # The failing field or rule: validation names `errors[].field`, rules name `context.*`.
        self.field: str | None = _text(first.get("field")) or _text(self.context.get("field"))
        self.rule: str | None = (
            _text(self.context.get("rule"))
            or _text(self.context.get("limit"))
            or _text(self.context.get("quota"))
        )
        self.request_id: str | None = _text(self.problem.get("request_id")) or response.headers.get(
            "x-request-id"
        )
        self.retry_after: float | None = retry_after_seconds(response.headers.get("retry-after"))
        super().__init__(self._message())

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    @property
    def problem_slug(self) -> str | None:
        """The problem type's slug (`/problems/{slug}`), when the answer names one."""
        return _slug(self.problem)

    def _message(self) -> str:
        where = f" ({self.field})" if self.field else ""
        rid = f" [request_id {self.request_id}]" if self.request_id else ""
        return f"{self.status} {self.title}: {self.detail}{where}{rid}".rstrip(": ")


class BadRequestError(APIError):
    status_class = 400


class UnauthorizedError(APIError):
    status_class = 401


class ForbiddenError(APIError):
    status_class = 403


class NotFoundError(APIError):
    status_class = 404


class ConflictError(APIError):
    status_class = 409


class UnprocessableEntityError(APIError):
    status_class = 422


class TooManyRequestsError(APIError):
    status_class = 429


class ServerError(APIError):
    """Any 5xx answer."""

    status_class = 500


class ResponseValidationError(APIError):
    """The API answered with a body this SDK version cannot read (upgrade the SDK)."""

    def __init__(self, operation: str, response: httpx.Response, message: str) -> None:
        super().__init__(response, None)
        self.detail = f"{operation}: the answer does not match this SDK's model: {message}"
        self.args = (self.detail,)


class OAuthError(APIError):
    """An authorization-server refusal, as RFC 6749 §5.2 words it (`error`, `error_description`)."""

    def __init__(self, response: httpx.Response, problem: Mapping[str, Any] | None) -> None:
        super().__init__(response, problem)
        self.error: str = _text(self.problem.get("error")) or "unknown_error"
        self.error_description: str | None = _text(self.problem.get("error_description"))
        self.title = self.error
        self.args = (self._message(),)


class GrantExpiredError(OpenPlatformError):
    """The customer's grant cannot give a token any more: ask the customer again."""


class InvalidAuthorizationResponseError(OpenPlatformError):
    """The customer's browser came back with an answer that is not ours to trust (RFC 9207, state)."""


STATUS_CLASSES: dict[int, type[APIError]] = {
    cls.status_class: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        TooManyRequestsError,
    )
    if cls.status_class is not None
}
# Filled by the generated layer: one class per problem type of `/problems/{slug}`.
SLUG_CLASSES: dict[str, type[APIError]] = {}


def error_for(response: httpx.Response, *, oauth: bool = False) -> APIError:
    """The typed exception for an error answer: by problem type first, then by status."""
    body = _json_object(response)
    if oauth and body is not None and "error" in body:
        return OAuthError(response, body)
    slug = _slug(body)
    cls = SLUG_CLASSES.get(slug) if slug else None
    if cls is None:
        status = response.status_code
        cls = STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIError)
    return cls(response, body)


def _slug(body: Mapping[str, Any] | None) -> str | None:
    kind = _text(body.get("type")) if body else None
    if not kind or "/problems/" not in kind:
        return None
    return kind.rsplit("/problems/", 1)[1].strip("/") or None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _snippet(response: httpx.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace").strip()
    kind = response.headers.get("content-type", "no content type")
    return f"non-JSON answer ({kind}): {text}" if text else f"empty answer ({kind})"
