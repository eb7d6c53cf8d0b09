"""Every exception the SDK raises: status classes, one class per problem type, and client-side errors."""

from openplatform._core.delegation import AuthorizationDeniedError
from openplatform._core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    GrantExpiredError,
    InvalidAuthorizationResponseError,
    NotFoundError,
    OAuthError,
    OpenPlatformError,
    RequestValidationError,
    ResponseValidationError,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableEntityError,
)
from openplatform._generated.problems import *  # noqa: F403 (one class per problem type)
from openplatform._generated.problems import PROBLEM_CLASSES

__all__ = [
    "PROBLEM_CLASSES",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthorizationDeniedError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "GrantExpiredError",
    "InvalidAuthorizationResponseError",
    "NotFoundError",
    "OAuthError",
    "OpenPlatformError",
    "RequestValidationError",
    "ResponseValidationError",
    "ServerError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnprocessableEntityError",
    *(cls.__name__ for cls in PROBLEM_CLASSES.values()),
]
