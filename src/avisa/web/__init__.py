"""HTTP side: the FastAPI application, its routers and the dashboard."""

from avisa.web.app import create_app

__all__ = ["create_app"]
