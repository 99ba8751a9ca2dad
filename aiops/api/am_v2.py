"""Alertmanager's API v2, where it makes sense for the engine.

Prometheus can list the engine under ``alerting.alertmanagers`` and send its alerts to
``POST /api/v2/alerts``; ``amtool`` and Grafana's Alertmanager data source can manage
silences and read alerts and status. Shapes are Alertmanager's (``api/v2/openapi.yaml``):
a postable alert's state comes from its ``endsAt`` (in the past: resolved), a silence
answers ``{"silenceID": ...}``, and a refused silence is a 400 whose body is the reason as
a JSON string, as Alertmanager answers.

What is not here: alert groups by route, receivers' integrations, clustering. The engine
has no routing tree; ``/api/v2/alerts/groups`` groups by ``alertname``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from aiops import __version__
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_json
from aiops.api.silence_ops import expire_silence, save_silence, silence_store
from aiops.model import Alert, AlertStatus, DecodeError, NotFoundError
from aiops.silences import SilenceSpec, silence_to_dict
from aiops.storage.rows import alert_from_row, alerts_t
from aiops.wire.shapes import alert_from_dict, alert_key, encode_alert
from aiops.wire.timefmt import format_time, parse_time
from correlator.config import Matcher
from streams.producer import Record

router = APIRouter(prefix="/api/v2", tags=["alertmanager v2"])

#: When this process started, for ``/api/v2/status``' uptime.
STARTED = time.time()


def _bad_request(reason: str) -> JSONResponse:
    """Alertmanager's 400: the reason as a JSON string."""
    return JSONResponse(status_code=400, content=reason)


def postable_alert(raw: object, now: float) -> Alert:
    """An alert as Prometheus posts it: no ``status``; ``endsAt`` in the past means
    resolved, a future or missing one firing; a missing ``startsAt`` is now.

    >>> a = postable_alert({"labels": {"alertname": "X"}, "endsAt": "1970-01-01T00:01:40Z"},
    ...                    now=200.0)
    >>> a.status.value, a.starts_at, a.ends_at
    ('resolved', 100.0, 100.0)
    >>> postable_alert({"labels": {"alertname": "X"}}, now=200.0).status.value
    'firing'
    """
    if not isinstance(raw, Mapping):
        raise DecodeError("an alert must be an object")
    body = {k: v for k, v in raw.items() if k != "status"}
    # amtool sends Go's zero time for "not given"; parse_time reads it as None
    if parse_time(body.get("startsAt"), field="startsAt") is None:
        body["startsAt"] = body.get("endsAt") or format_time(now)
        if parse_time(body["startsAt"], field="endsAt") is None:
            body["startsAt"] = format_time(now)
    alert = alert_from_dict(body)
    if alert.ends_at is not None and alert.ends_at <= now:
        return Alert(alert.labels, alert.annotations, min(alert.starts_at, alert.ends_at),
                     alert.ends_at, alert.generator_url, AlertStatus.RESOLVED)
    return Alert(alert.labels, alert.annotations, alert.starts_at, None, alert.generator_url,
                 AlertStatus.FIRING)


@router.post("/alerts", summary="Alerts as Prometheus sends them to an Alertmanager",
             responses={400: {"description": "Not a list of valid alerts; the reason."},
                        401: {"description": "Missing or wrong credentials."},
                        503: {"description": "The broker did not take them; retry."}})
async def post_alerts(request: Request, api: ApiDeps = Depends(deps)) -> Any:
    """200 once every alert is on the alerts topic (acknowledged by the broker)."""
    started = time.perf_counter()
    raw = await read_json(request, api, "alertmanager_v2")
    if not isinstance(raw, list):
        api.telemetry.rejected.labels("alertmanager_v2", "400").inc()
        return _bad_request("the body must be a list of alerts")
    now = time.time()
    records = []
    for index, item in enumerate(raw):
        try:
            alert = postable_alert(item, now)
        except DecodeError as exc:
            api.telemetry.rejected.labels("alertmanager_v2", "400").inc()
            return _bad_request(f"alerts[{index}]: {exc.reason}")
        records.append(Record(api.topics.alerts, alert_key(alert), encode_alert(alert)))
    if records:
        await _publish(api, records, "alertmanager_v2")
    api.telemetry.received.labels("alertmanager_v2").inc(len(records))
    api.telemetry.request_latency.labels("alertmanager_v2").observe(
        time.perf_counter() - started)
    return JSONResponse(status_code=200, content=None)


def _filters(raw: list[str] | None) -> list[Matcher]:
    try:
        return [Matcher.parse(f) for f in raw or []]
    except Exception as exc:
        raise HTTPException(400, f"bad filter: {exc}") from exc


def _gettable_alert(alert: Alert, silenced_by: list[str], updated: float) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels), "annotations": dict(alert.annotations),
        "startsAt": format_time(alert.starts_at),
        "endsAt": format_time(alert.ends_at) or format_time(updated + 300),
        "updatedAt": format_time(updated), "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint, "receivers": [{"name": "aiops"}],
        "status": {"state": "suppressed" if silenced_by else "active",
                   "silencedBy": silenced_by, "inhibitedBy": []},
    }


def _alerts(api: ApiDeps, filters: list[Matcher], silenced: bool, active: bool
            ) -> list[dict[str, Any]]:
    now = time.time()
    query = (select(alerts_t).where(alerts_t.c.status == AlertStatus.FIRING.value)
             .order_by(alerts_t.c.starts_at.desc()).limit(10_000))
    with api.store.engine.connect() as conn:
        rows = conn.execute(query).all()
    silences = [s for s in silence_store(api).listed(now) if s.state(now) == "active"]
    out = []
    for row in rows:
        alert = alert_from_row(row)
        if not all(m.matches(alert.labels) for m in filters):
            continue
        by = [s.id for s in silences
              if all(m.matcher().matches(alert.labels) for m in s.matchers)]
        if (by and not silenced) or (not by and not active):
            continue
        out.append(_gettable_alert(alert, by, float(row.last_seen)))
    return out


@router.get("/alerts")
def get_alerts(filter: list[str] | None = Query(None), silenced: bool = True,
               inhibited: bool = True, active: bool = True,
               api: ApiDeps = Depends(deps)) -> list[dict[str, Any]]:
    """Firing alerts the engine holds, with the silences that cover them."""
    return _alerts(api, _filters(filter), silenced, active)


@router.get("/alerts/groups")
def get_groups(filter: list[str] | None = Query(None), api: ApiDeps = Depends(deps)
               ) -> list[dict[str, Any]]:
    """Firing alerts grouped by ``alertname`` (the engine has no routing tree)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for alert in _alerts(api, _filters(filter), True, True):
        groups.setdefault(alert["labels"].get("alertname", ""), []).append(alert)
    return [{"labels": {"alertname": name}, "receiver": {"name": "aiops"}, "alerts": alerts}
            for name, alerts in sorted(groups.items())]


def _silence_matches(spec: SilenceSpec, filters: list[Matcher]) -> bool:
    """Alertmanager's silence filter: the filters are applied to the silence's matchers read
    as labels (name -> value), so ``alertname=X`` finds silences with ``alertname="X"``.

    >>> from aiops.silences import MatcherSpec
    >>> spec = SilenceSpec("s", (MatcherSpec("service", "db-.*", True),), 0.0, 1.0)
    >>> _silence_matches(spec, [Matcher.parse('service=~"db.*"')])
    True
    >>> _silence_matches(spec, [Matcher.parse("service=db-main")])
    False
    """
    values = {m.name: m.value for m in spec.matchers}
    return all(f.matches(values) for f in filters)


@router.get("/silences")
def list_silences(filter: list[str] | None = Query(None), api: ApiDeps = Depends(deps)
                  ) -> list[dict[str, Any]]:
    """Every silence, expired ones included, as Alertmanager lists them."""
    now = time.time()
    filters = _filters(filter)
    found = silence_store(api).listed(now, expired=True)
    return [silence_to_dict(s, now) for s in found if _silence_matches(s, filters)]


@router.post("/silences", responses={400: {"description": "Bad silence; the reason."}})
async def post_silence(request: Request, api: ApiDeps = Depends(deps)) -> Any:
    """Create a silence, or update one by ``id``: ``{"silenceID": ...}``."""
    raw = await read_json(request, api, "silences")
    try:
        spec = await save_silence(api, raw, "silences")
    except HTTPException as exc:
        if exc.status_code in (409, 422):
            return _bad_request(str(exc.detail))
        raise
    return {"silenceID": spec.id}


@router.get("/silence/{silence_id}")
def get_silence(silence_id: str, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    try:
        return silence_to_dict(silence_store(api).get(silence_id), time.time())
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.delete("/silence/{silence_id}")
async def delete_silence(request: Request, silence_id: str, api: ApiDeps = Depends(deps)
                         ) -> Any:
    """Expire a silence now."""
    await expire_silence(api, silence_id, "silences")
    return JSONResponse(status_code=200, content=None)


@router.get("/status")
def status() -> dict[str, Any]:
    """Alertmanager's status shape; the engine runs no cluster and no routing config."""
    return {
        "cluster": {"name": "aiops", "status": "disabled", "peers": []},
        "versionInfo": {"version": __version__, "revision": "", "branch": "",
                        "buildUser": "", "buildDate": "", "goVersion": "aiops-engine"},
        "config": {"original": "# aiops-engine: no routing tree; alerts go to the "
                               "correlator\n"},
        "uptime": format_time(STARTED),
    }


@router.get("/receivers")
def receivers() -> list[dict[str, str]]:
    return [{"name": "aiops"}]

