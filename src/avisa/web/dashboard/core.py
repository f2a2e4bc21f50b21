"""What every dashboard route shares: templates, the session, CSRF-checked forms, answers.

Forms are `application/x-www-form-urlencoded` and parsed here with the standard library
(no multipart dependency: the dashboard never uploads files). Every POST goes through
`read_form`, which answers 403 unless the form carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from avisa.services import Services
from avisa.web.dashboard.session import COOKIE, TTL, Session, SessionCodec, csrf_matches

PREFIX = "/dashboard"
MAX_FIELDS = 20


class LoginRequiredError(Exception):
    """Raised by a page when nobody is logged in; answered with a redirect to the login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfError(Exception):
    """A POST without this session's CSRF token; answered 403."""


def templates() -> Environment:
    """The dashboard's Jinja2 environment (autoescaped: nothing reaches a page raw)."""
    env = Environment(
        loader=PackageLoader("avisa.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["local"] = local
    return env


def when(instant: datetime | None) -> str:
    return "" if instant is None else f"{instant:%Y-%m-%d %H:%M:%S}Z"


def local(instant: datetime | None, zone: str) -> str:
    """`instant` as wall-clock time in `zone` (an appointment's own zone)."""
    if instant is None:
        return ""
    try:
        shown = instant.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return when(instant)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname()}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def codec(request: Request) -> SessionCodec:
    found: SessionCodec = request.app.state.dashboard_sessions
    return found


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def current_session(request: Request) -> Session | None:
    return codec(request).loads(request.cookies.get(COOKIE))


def require_user(request: Request) -> Session:
    """The logged-in session; raises LoginRequiredError otherwise."""
    session = current_session(request)
    if session is None or not session.logged_in:
        raise LoginRequiredError(request.url.path)
    return session


async def read_form(request: Request) -> tuple[Session, dict[str, str]]:
    """The posted fields (first value of each) after the CSRF check; raises CsrfError."""
    raw = await request.body()
    try:
        parsed = parse_qs(raw.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise CsrfError from None
    fields = {name: values[0] for name, values in parsed.items()}
    # Checking the signature may read the vault (the key is cached for 30 s): off the loop.
    session = await asyncio.to_thread(current_session, request)
    if session is None or not csrf_matches(session, fields.pop("csrf_token", None)):
        raise CsrfError
    return session, fields


def set_session(request: Request, response: Response, session: Session) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        codec(request).dumps(session),
        max_age=int(TTL.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def page(
    request: Request,
    template: str,
    session: Session | None,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """Render `template`; a notice waiting in the session is shown once, then dropped."""
    env: Environment = request.app.state.dashboard_templates
    flash = session.flash if session else None
    html = env.get_template(template).render(
        session=session,
        flash=flash,
        path=request.url.path,
        prefix=PREFIX,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=_NO_STORE)
    if session is not None and flash is not None:
        set_session(request, response, Session(session.user, session.csrf, session.expires))
    return response


def back(request: Request, session: Session, to: str, kind: str, text: str) -> Response:
    """303 to `to` (a dashboard path) with a one-shot notice."""
    response = RedirectResponse(to, status_code=303)
    set_session(request, response, session.with_flash(kind, text))
    return response


def install_handlers(app: FastAPI) -> None:
    env = app.state.dashboard_templates

    @app.exception_handler(LoginRequiredError)
    async def _login(_request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"{PREFIX}/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(CsrfError)
    async def _csrf(_request: Request, _exc: CsrfError) -> Response:
        html = env.get_template("error.html").render(
            session=None,
            flash=None,
            path="",
            prefix=PREFIX,
            title="Form refused",
            message="This form is missing its security token or it has expired. "
            "Go back, reload the page and try again.",
        )
        return HTMLResponse(html, status_code=403, headers=_NO_STORE)


#: Dashboard pages show live state and must not be cached by a browser or a proxy.
_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
}
