"""The FastAPI application, assembled from routers and the dependencies it is given."""

from __future__ import annotations

from fastapi import FastAPI

from aiops import __version__
from aiops.api import health, incidents, receivers, remote_write, silences, topology
from aiops.api.auth import AccessControl, document_security
from aiops.api.deps import ApiDeps
from aiops.api.edge import RefuseNulInUrl
from aiops.api.remediation import router as remediation_router


def create_api(api_deps: ApiDeps) -> FastAPI:
    app = FastAPI(
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
    app.include_router(incidents.router)
    app.include_router(topology.router)
    app.include_router(silences.router)
    app.include_router(health.router)
    app.include_router(remediation_router)
    document_security(app)
    return app
