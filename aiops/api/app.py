"""The FastAPI application, assembled from routers and the dependencies it is given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from aiops import __version__
from aiops.api import (
    am_v2,
    detection,
    health,
    incidents,
    otlp,
    receivers,
    remote_write,
    silences,
    topology,
    topology_read,
)
from aiops.api.auth import AccessControl, document_security
from aiops.api.deps import ApiDeps
from aiops.api.edge import RefuseNulInUrl
from aiops.api.remediation import router as remediation_router
from aiops.console.deps import ConsoleDeps
from aiops.console.routes import mount_console


def create_api(api_deps: ApiDeps, console: ConsoleDeps | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # The API's producer is its own: deliver what is queued (bounded by the publish
        # timeout), then release it, so nothing keeps reconnecting after the server stops.
        await to_thread.run_sync(api_deps.producer.close, api_deps.settings.publish_timeout_s)

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by the console from vendored assets: works offline
        redoc_url=None,
        title="AIOps engine",
        version=__version__,
        description=("Alert receivers, incidents with ranked root causes, silences, "
                     "remediation audit."),
    )
    app.state.deps = api_deps
    # Before routing, outermost first: one access policy for every request, so new routes
    # are protected too (aiops.api.auth); then NUL bytes in the URL (aiops.api.edge).
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(AccessControl)  # added last: runs first
    app.include_router(receivers.router)
    app.include_router(remote_write.router)
    app.include_router(otlp.router)
    app.include_router(incidents.router)
    app.include_router(topology.router)
    app.include_router(topology_read.router)
    app.include_router(silences.router)
    app.include_router(detection.router)
    app.include_router(health.router)
    app.include_router(remediation_router)
    app.include_router(am_v2.router)
    mount_console(app, console or ConsoleDeps())
    document_security(app)
    return app
