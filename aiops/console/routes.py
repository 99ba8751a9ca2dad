"""Mounting the console on the API's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from aiops.console import actions, docs, pages
from aiops.console.deps import ConsoleDeps
from aiops.console.render import HERE, build_templates


def mount_console(app: FastAPI, console: ConsoleDeps) -> None:
    """Add the pages, their static files (``/ui/static``), ``/`` and the offline
    ``/docs`` and ``/redoc`` to ``app``; the app must have been created with
    ``docs_url=None, redoc_url=None``."""
    app.state.console = console
    app.state.console_templates = build_templates()
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(docs.router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/incidents", status_code=307)
