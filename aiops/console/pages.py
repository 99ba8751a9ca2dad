"""The console's pages and the fragments its live parts poll."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from aiops.api.deps import ApiDeps, deps
from aiops.api.health import dependency_problems
from aiops.console import queries
from aiops.console.auth import read_failure
from aiops.console.deps import ConsoleDeps, console_deps
from aiops.console.health import stage_health
from aiops.console.render import render
from aiops.console.views import (
    graph_overlay,
    group_by_node,
    incident_plots,
    neighbourhood,
    nodes_of,
    silence_matchers,
)
from aiops.model import IncidentStatus, NotFoundError
from aiops.storage.remediation import RemediationStore
from aiops.storage.silences import SilenceStore
from topology.mapping import LabelMapper

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE_SIZE = 50
#: The list's time filter: label -> seconds back (``None``: all).
WINDOWS: dict[str, float | None] = {"1h": 3600, "6h": 6 * 3600, "24h": 86400,
                                    "7d": 7 * 86400, "30d": 30 * 86400, "all": None}
STATUSES = [s.value for s in IncidentStatus]
SEVERITIES = ["critical", "warning", "info"]


def _reader(request: Request, api: ApiDeps = Depends(deps)) -> ApiDeps:
    reason = read_failure(request, api.settings)
    if reason is not None:
        raise HTTPException(401, reason)
    return api


def _filters(status: str, severity: str, service: str, window: str) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    if window not in WINDOWS:
        raise HTTPException(422, f"window must be one of {', '.join(WINDOWS)}")
    back = WINDOWS[window]
    return {"status": status or None, "severity": severity or None,
            "service": service.strip() or None,
            "since": None if back is None else time.time() - back}


def _live(api: ApiDeps, status: str, severity: str, service: str, window: str,
          page: int) -> dict[str, Any]:
    where = _filters(status, severity, service, window)
    incidents = queries.incident_rows(api.store.engine, limit=PAGE_SIZE,
                                      offset=(page - 1) * PAGE_SIZE, **where)
    total = queries.count_incidents(api.store.engine, **where)
    return {
        "incidents": incidents,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "funnel": queries.funnel(api.store.engine, where["since"]),
        "filters": {"status": status, "severity": severity, "service": service,
                    "window": window, "page": page},
    }


@router.get("", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/ui/incidents", status_code=307)


@router.get("/incidents", response_class=HTMLResponse)
async def incidents_page(
    request: Request, status: str = "", severity: str = "", service: str = "",
    window: str = "24h", page: int = Query(1, ge=1), api: ApiDeps = Depends(_reader),
) -> Response:
    live = await run_in_threadpool(_live, api, status, severity, service, window, page)
    services = await run_in_threadpool(queries.services, api.store.engine)
    return render(request, "incidents.html", **live, services=services, statuses=STATUSES,
                  severities=SEVERITIES, windows=list(WINDOWS))


@router.get("/incidents/live", response_class=HTMLResponse)
async def incidents_live(
    request: Request, status: str = "", severity: str = "", service: str = "",
    window: str = "24h", page: int = Query(1, ge=1), api: ApiDeps = Depends(_reader),
) -> Response:
    live = await run_in_threadpool(_live, api, status, severity, service, window, page)
    return render(request, "_live.html", **live)


def _incident_context(api: ApiDeps, console: ConsoleDeps, incident_id: str) -> dict[str, Any]:
    try:
        incident = api.store.get_incident(incident_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    graph = console.topology.graph()
    node_of = nodes_of(LabelMapper(graph=graph))
    groups = group_by_node(incident.alerts, node_of)
    remediation = RemediationStore(api.store.engine)
    return {
        "incident": incident,
        "groups": groups,
        "graph": neighbourhood(incident, [g.node for g in groups], graph),
        "plots": incident_plots(incident, groups, node_of),
        "actions": api.store.list_actions(incident.id, limit=100),
        "approvals": remediation.approvals(incident_id=incident.id, limit=100),
        "audit": remediation.audit(incident_id=incident.id, limit=100),
        "matchers": silence_matchers(incident.alerts),
    }


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, incident_id: str, api: ApiDeps = Depends(_reader),
                        console: ConsoleDeps = Depends(console_deps)) -> Response:
    context = await run_in_threadpool(_incident_context, api, console, incident_id)
    return render(request, "incident.html", **context)


@router.get("/incidents/{incident_id}/head", response_class=HTMLResponse)
async def incident_head(request: Request, incident_id: str,
                        api: ApiDeps = Depends(_reader)) -> Response:
    try:
        incident = await run_in_threadpool(api.store.get_incident, incident_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return render(request, "_incident_head.html", incident=incident)


@router.get("/silences", response_class=HTMLResponse)
async def silences_page(request: Request, expired: bool = False, incident: str = "",
                        api: ApiDeps = Depends(_reader)) -> Response:
    now = time.time()
    found = await run_in_threadpool(SilenceStore(api.store.engine).listed, now,
                                    expired=expired)
    matchers: list[str] = []
    if incident:
        try:
            source = await run_in_threadpool(api.store.get_incident, incident)
            matchers = silence_matchers(source.alerts)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
    return render(request, "silences.html", silences=found, now=now, expired=expired,
                  matchers=matchers, incident_id=incident)


@router.get("/graph", response_class=HTMLResponse)
def graph_page(request: Request, api: ApiDeps = Depends(_reader)) -> Response:
    return render(request, "graph.html")


@router.get("/graph/elements")
async def graph_elements(api: ApiDeps = Depends(_reader),
                         console: ConsoleDeps = Depends(console_deps)) -> JSONResponse:
    """The service graph with the live incidents on it (polled by the graph page)."""
    def build() -> list[dict[str, Any]]:
        live = queries.incident_rows(api.store.engine, limit=2000,
                                     statuses=(IncidentStatus.OPEN.value,
                                               IncidentStatus.ACKNOWLEDGED.value))
        return graph_overlay(console.topology.graph(), live)

    return JSONResponse({"elements": await run_in_threadpool(build)})


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, incident_id: str = "", decision: str = "",
                     page: int = Query(1, ge=1), api: ApiDeps = Depends(_reader)) -> Response:
    store = RemediationStore(api.store.engine)
    entries = await run_in_threadpool(
        lambda: store.audit(incident_id=incident_id or None, decision=decision or None,
                            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    pending = await run_in_threadpool(lambda: store.approvals(status="pending", limit=100))
    switch = await run_in_threadpool(store.switch)
    return render(request, "audit.html", entries=[asdict(e) for e in entries],
                  approvals=pending, switch=switch, page=page,
                  filters={"incident_id": incident_id, "decision": decision})


def _health(api: ApiDeps, console: ConsoleDeps) -> dict[str, Any]:
    problems = dependency_problems(api)
    stages, receivers = stage_health(api.telemetry.registry)
    broker = console.broker.health() if console.broker is not None else None
    if broker is not None and broker.error:
        problems["broker"] = broker.error
        broker = None
    return {"problems": problems, "stages": stages, "receivers": receivers, "broker": broker,
            "dlq": broker.dead_letters if broker else sum(s.dead_lettered for s in stages),
            "lag": (sum(g.lag for g in broker.groups) if broker
                    else sum(s.lag for s in stages))}


@router.get("/health", response_class=HTMLResponse)
async def health_page(request: Request, api: ApiDeps = Depends(_reader),
                      console: ConsoleDeps = Depends(console_deps)) -> Response:
    return render(request, "health.html", started_at=console.started_at,
                  **await run_in_threadpool(_health, api, console))


@router.get("/health/live", response_class=HTMLResponse)
async def health_live(request: Request, api: ApiDeps = Depends(_reader),
                      console: ConsoleDeps = Depends(console_deps)) -> Response:
    return render(request, "_health.html", started_at=console.started_at,
                  **await run_in_threadpool(_health, api, console))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/ui/incidents") -> Response:
    return render(request, "login.html", next=_local(next), error="")


def _local(target: str) -> str:
    """Only a path on this host: a login link must not send people elsewhere.

    >>> _local("https://evil.example/"), _local("//evil"), _local("/ui/silences")
    ('/ui/incidents', '/ui/incidents', '/ui/silences')
    """
    return target if target.startswith("/") and not target.startswith("//") else "/ui/incidents"
