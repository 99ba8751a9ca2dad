"""Liveness, readiness and the engine's own metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aiops.api.deps import ApiDeps, deps
from streams.health import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def dependency_problems(api: ApiDeps) -> dict[str, str]:
    """What the store and the broker raised when pinged, by name; empty when both answer.

    One check for ``/readyz`` and the console's health panel, so the two cannot disagree.
    """
    problems: dict[str, str] = {}
    try:
        api.store.ping()
    except Exception as exc:
        problems["store"] = str(exc) or type(exc).__name__
    try:
        api.producer.ping()
    except Exception as exc:
        problems["broker"] = str(exc) or type(exc).__name__
    return problems


@router.get("/readyz")
def readyz(api: ApiDeps = Depends(deps)) -> Any:
    problems = dependency_problems(api)
    if api.workers is not None:
        ready, idle = readiness(api.workers())
        if not ready:
            problems["workers"] = "; ".join(f"{k}: {v}" for k, v in idle.items())
    if problems:
        return JSONResponse(status_code=503, content={"status": "not ready", **problems})
    return {"status": "ready"}


@router.get("/metrics")
def metrics(api: ApiDeps = Depends(deps)) -> Response:
    return Response(generate_latest(api.telemetry.registry), media_type=CONTENT_TYPE_LATEST)
