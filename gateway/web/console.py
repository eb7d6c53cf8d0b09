"""What the developer portal and the supervisor console share: production's control plane only, a
session cookie of their own, and form posts from their own pages.

A page asks its console for the signed-in session or the checked form. Where there is none the
console answers instead (not found outside production, the sign-in page, a refused form): it raises
`DetourError`, and every console route answers with the page the error carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Template

from gateway.auth.login import same_token
from gateway.domain.environment import Environment
from gateway.edge.access import public
from gateway.web.pages import checked_form, environment_of, first, see_other


class ConsoleSession(Protocol):
    @property
    def csrf_token(self) -> str: ...


S = TypeVar("S", bound=ConsoleSession)
S_co = TypeVar("S_co", bound=ConsoleSession, covariant=True)


class SessionSource(Protocol[S_co]):
    def session(self, cookie: str | None) -> S_co | None: ...


class DetourError(Exception):
    """The console answers with another page than the handler's."""

    def __init__(self, page: Response[Any]) -> None:
        super().__init__(page.status_code)
        self.page = page


def _detour(_request: Request[Any, Any, Any], exc: DetourError) -> Response[Any]:
    return exc.page


def strict_cookie(key: str, value: str, *, max_age: int) -> Cookie:
    # `__Host-` and SameSite=Strict: no sibling host sets it, no other site's link or post carries it.
    return Cookie(
        key=key, value=value, path="/", secure=True, httponly=True, samesite="strict", max_age=max_age
    )


@dataclass(frozen=True, slots=True)
class Console(Generic[S]):
    """One console: where it lives, how its pages look, and what it says when it refuses."""

    base: str
    home: str  # where a sign-in returns to when it names no page of the console
    cookie: str  # the session cookie
    headers: Mapping[str, str]
    message_template: str
    not_here: str  # why the console is not found outside production
    refused: str  # what a refused form says
    chrome: Callable[[S | None], dict[str, Any]]  # what every page shows of the session
    keeps_query: bool = False  # whether a page's query survives the way through the sign-in

    @property
    def options(self) -> dict[str, Any]:
        """Route keywords of every page of the console."""
        return {"include_in_schema": False, **public(), "exception_handlers": {DetourError: _detour}}

    def render(
        self,
        name: str,
        *,
        session: S | None,
        status: int = 200,
        cookies: list[Cookie] | None = None,
        **context: Any,
    ) -> Template:
        return Template(
            template_name=name,
            context={"static_url": "/static", **self.chrome(session), **context},
            status_code=status,
            headers=dict(self.headers),
            cookies=cookies or [],
        )

    def message(self, title: str, detail: str, *, status: int, session: S | None = None) -> Template:
        return self.render(self.message_template, session=session, status=status, title=title, detail=detail)

    def in_production(self, request: Request[Any, Any, Any]) -> None:
        if environment_of(request) is not Environment.PRODUCTION:
            raise DetourError(self.message("Not found", self.not_here, status=404))

    def session(self, request: Request[Any, Any, Any], sessions: SessionSource[S]) -> S | None:
        """The session the request's cookie proves, in production; None when signed out."""
        self.in_production(request)
        return sessions.session(request.cookies.get(self.cookie))

    def signed_in(self, request: Request[Any, Any, Any], sessions: SessionSource[S]) -> S:
        """The session, or the way to the sign-in page and back."""
        session = self.session(request, sessions)
        if session is None:
            raise DetourError(self.to_login(request))
        return session

    async def signed_in_form(
        self, request: Request[Any, Any, Any], sessions: SessionSource[S], issuer: str
    ) -> tuple[S, dict[str, list[str]]]:
        """The session and the form of a post from the console's own pages."""
        session = self.signed_in(request, sessions)
        return session, await self.form(request, issuer, session)

    async def form(self, request: Request[Any, Any, Any], issuer: str, session: S) -> dict[str, list[str]]:
        """A post from the console's own pages: same origin and the session's CSRF token."""
        values = await checked_form(request, issuer)
        if not same_token(session.csrf_token, first(values, "csrf_token")):
            raise DetourError(self.message("Please try again", self.refused, status=403, session=session))
        return values

    async def anonymous_form(
        self, request: Request[Any, Any, Any], issuer: str, cookie: str, *, refused: str | None = None
    ) -> dict[str, list[str]]:
        """A post before there is a session (sign-in, sign-up): same origin and the token of the
        double-submit `cookie`."""
        values = await checked_form(request, issuer)
        if not same_token(request.cookies.get(cookie, ""), first(values, "csrf_token")):
            raise DetourError(self.message("Please try again", refused or self.refused, status=403))
        return values

    def to_login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if request.method != "GET":
            target = self.home
        elif self.keeps_query and request.url.query:
            target = f"{request.url.path}?{request.url.query}"
        else:
            target = request.url.path
        return see_other(f"{self.base}/login?return_to={quote(target, safe='')}")

    def local(self, value: str | None) -> str:
        """Only a page of this console is a place to return to after sign-in (no open redirect)."""
        if not value or not value.startswith(self.base + "/") or "//" in value or "\\" in value:
            return self.home
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or (parts.query and not self.keeps_query):
            return self.home
        return value
