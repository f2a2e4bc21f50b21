"""The operator's dashboard at `/dashboard`: server-rendered pages, signed sessions, CSRF.

`install_dashboard(app)` adds its routes, error answers and static files to the app.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import Response

from avisa.services import Services
from avisa.web.dashboard import actions, login, pages
from avisa.web.dashboard.core import PREFIX, install_handlers, templates
from avisa.web.dashboard.session import SessionCodec

_STATIC = {"avisa.css": "text/css; charset=utf-8"}


def install_dashboard(app: FastAPI, services: Services) -> None:
    """Mount the dashboard on `app` (its sessions are signed with keys from the vault)."""
    app.state.dashboard_sessions = SessionCodec(services.vault, services.clock)
    app.state.dashboard_templates = templates()
    install_handlers(app)
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(actions.router)

    @app.get(f"{PREFIX}/static/{{name}}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _STATIC:
            return Response(status_code=404)
        body = files("avisa.web.dashboard").joinpath("static", name).read_bytes()
        return Response(
            body, media_type=_STATIC[name], headers={"Cache-Control": "public, max-age=3600"}
        )


__all__ = ["install_dashboard"]
