"""Versioned JSON codecs (orjson) for everything that crosses a topic.

Wire shapes:

* metrics: ``{"name", "labels", "ts", "value"}``, a batch ``{"samples": [...]}``, or the
  prometheus-kafka-adapter shape ``{"name", "labels": {"__name__": ...}, "timestamp",
  "value": "1.5"}``;
* logs: ``{"ts", "service", "level", "message", "labels"}``;
* alerts: Alertmanager's alert object (``labels``, ``annotations``, ``startsAt``, ``endsAt``,
  ``generatorURL``, ``status``, ``fingerprint``); unknown fields are ignored;
* incidents: ``{"schema": "aiops.incident/v1", ...}`` (see ``docs/incident.schema.json``);
* actions: ``{"schema": "aiops.action/v1", ...}``.

Every decoder raises :class:`aiops.model.DecodeError` with a reason a person can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from aiops.model import (
    ActionStatus,
    Alert,
    AlertStatus,
    CommandKind,
    DecodeError,
    Incident,
    IncidentCommand,
    IncidentStatus,
    LogRecord,
    MetricSample,
    RemediationAction,
    RootCause,
    TimelineEntry,
    series_key,
)
from aiops.model.columns import MetricColumns
from streams.timefmt import MAX_TIME, format_time, parse_time

INCIDENT_SCHEMA = "aiops.incident/v1"
ACTION_SCHEMA = "aiops.action/v1"


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from exc


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _labels(raw: object, field: str = "labels") -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DecodeError(f"{field} must be an object of strings")
    return {str(k): str(v) for k, v in raw.items()}


#: the most bytes an alert's labels and annotations may take together; Alertmanager sets no
#: limit, but a label set of megabytes is a broken producer, and one such alert would make
#: every incident document holding it too large for the broker
MAX_ALERT_TEXT = 64 * 1024


def _clean_text(values: Mapping[str, str], field: str) -> int:
    """Refuse NUL characters (PostgreSQL text cannot hold them); the size in characters.

    >>> _clean_text({"a": "b" + chr(0)}, "labels")
    Traceback (most recent call last):
    ...
    aiops.model.errors.DecodeError: cannot decode record: labels.a holds a NUL character
    """
    size = 0
    for k, v in values.items():
        if "\x00" in k or "\x00" in v:
            raise DecodeError(f"{field}.{k.replace(chr(0), '?')[:100]} holds a NUL character")
        size += len(k) + len(v)
    return size


def _obj(raw: object, kind: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise DecodeError(f"a {kind} must be a JSON object, got {type(raw).__name__}")
    return raw


# ---------------------------------------------------------------- metrics


def metric_from_dict(raw: object) -> MetricSample:
    # Fast path for the native shape, which is nearly all traffic on the hot topic.
    if type(raw) is dict:
        name = raw.get("name")
        labels = raw.get("labels")
        ts = raw.get("ts")
        value = raw.get("value")
        if (
            type(name) is str
            and name
            and type(labels) is dict
            and type(ts) in (float, int)
            and type(value) in (float, int)
            and ts < 1e11  # type: ignore[operator]
            and "__name__" not in labels
            and all(type(v) is str for v in labels.values())
        ):
            return MetricSample(name, labels, float(ts), float(value))  # type: ignore[arg-type]
    return _metric_from_dict_checked(raw)


def _metric_from_dict_checked(raw: object) -> MetricSample:
    obj = _obj(raw, "metric sample")
    labels = _labels(obj.get("labels"))
    name = obj.get("name") or labels.pop("__name__", None)
    labels.pop("__name__", None)
    if not name or not isinstance(name, str):
        raise DecodeError("metric sample needs a string 'name'")
    ts = parse_time(obj.get("ts", obj.get("timestamp")), field="ts")
    if ts is None:
        raise DecodeError("metric sample needs 'ts' (or 'timestamp')")
    raw_value = obj.get("value")
    try:
        value = float(raw_value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"metric value {raw_value!r} is not a number") from exc
    return MetricSample(name=name, labels=labels, ts=ts, value=value)


def decode_metrics(data: bytes | str) -> list[MetricSample]:
    """One sample or a ``{"samples": [...]}`` batch per message."""
    obj = loads(data)
    if isinstance(obj, Mapping) and "samples" in obj:
        samples = obj["samples"]
        if not isinstance(samples, list):
            raise DecodeError("'samples' must be a list")
        return [metric_from_dict(s) for s in samples]
    if isinstance(obj, list):
        return [metric_from_dict(s) for s in obj]
    return [metric_from_dict(obj)]


def _series_entry(
    raw: object,
) -> tuple[str, dict[str, str], list[float], list[float]]:
    obj = _obj(raw, "series")
    labels = _labels(obj.get("labels"))
    name = obj.get("name") or labels.pop("__name__", None)
    labels.pop("__name__", None)
    if not name or not isinstance(name, str):
        raise DecodeError("series needs a string 'name'")
    ts, values = obj.get("ts"), obj.get("values")
    if not isinstance(ts, list) or not isinstance(values, list) or len(ts) != len(values):
        raise DecodeError(f"series {name}: 'ts' and 'values' must be lists of equal length")
    try:
        ts_f = [float(t) for t in ts]
        values_f = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"series {name}: non-numeric timestamp or value") from exc
    if ts_f and max(ts_f) > 1e11:  # milliseconds, as Prometheus tooling sends them
        ts_f = [t / 1000.0 for t in ts_f]
    # min/max skip NaN depending on its place; a NaN makes the sum NaN wherever it is
    if ts_f and not (min(ts_f) >= 0.0 and max(ts_f) <= MAX_TIME and sum(ts_f) == sum(ts_f)):
        raise DecodeError(f"series {name}: a timestamp is out of range (1970 to 9999)")
    return name, labels, ts_f, values_f


def decode_metric_columns(data: bytes | str) -> MetricColumns:
    """Any accepted metrics message as columns; the series shape skips per-point objects.

    The columnar shape ``{"series": [{"name", "labels", "ts": [...], "values": [...]}]}``
    carries each series' name and labels once per message, like a remote_write request.
    A sample or series may say what kind of metric it is (``"type": "counter"``, as in
    remote_write metadata); the detect stage's metric semantics read it from
    :attr:`MetricColumns.types`.
    """
    obj = loads(data)
    if isinstance(obj, Mapping) and "series" in obj:
        entries = obj["series"]
        if not isinstance(entries, list):
            raise DecodeError("'series' must be a list")
        cols = MetricColumns.from_series([_series_entry(e) for e in entries])
        for i, entry in enumerate(entries):
            if "type" in entry:
                cols.types[series_key(cols.names[i], cols.labels[i])] = _metric_type(
                    entry["type"])
        return cols
    if isinstance(obj, Mapping) and "samples" in obj:
        raw = obj["samples"]
        if not isinstance(raw, list):
            raise DecodeError("'samples' must be a list")
    else:
        raw = obj if isinstance(obj, list) else [obj]
    samples = [metric_from_dict(s) for s in raw]
    cols = MetricColumns.from_samples(samples)
    for item, sample in zip(raw, samples, strict=True):
        if type(item) is dict and "type" in item:
            cols.types[sample.key] = _metric_type(item["type"])
    return cols


METRIC_TYPES = frozenset(("counter", "gauge", "histogram", "gaugehistogram", "summary", "info",
                          "stateset", "unknown"))


def _metric_type(raw: object) -> str:
    """A declared metric type (Prometheus/OpenMetrics names, case-insensitive)."""
    name = str(raw).lower()
    if name not in METRIC_TYPES:
        raise DecodeError(f"metric type {raw!r} is not one of {', '.join(sorted(METRIC_TYPES))}")
    return name


def encode_metric_series(samples: Sequence[MetricSample]) -> bytes:
    """Encode samples in the columnar series shape (grouped by series, order kept)."""
    grouped: dict[str, dict[str, Any]] = {}
    for sample in samples:
        entry = grouped.get(sample.key)
        if entry is None:
            entry = grouped[sample.key] = {"name": sample.name, "labels": dict(sample.labels),
                                           "ts": [], "values": []}
        entry["ts"].append(sample.ts)
        value = sample.value
        entry["values"].append(value if math.isfinite(value) else str(value))
    return dumps({"series": list(grouped.values())})


def metric_to_dict(sample: MetricSample) -> dict[str, Any]:
    value = sample.value
    return {
        "name": sample.name,
        "labels": dict(sample.labels),
        "ts": sample.ts,
        # JSON has no NaN; Prometheus' stale marker and NaN travel as strings.
        "value": value if math.isfinite(value) else str(value),
    }


def encode_metrics(samples: list[MetricSample]) -> bytes:
    if len(samples) == 1:
        return dumps(metric_to_dict(samples[0]))
    return dumps({"samples": [metric_to_dict(s) for s in samples]})


# ---------------------------------------------------------------- logs


def log_from_dict(raw: object) -> LogRecord:
    obj = _obj(raw, "log record")
    ts = parse_time(obj.get("ts", obj.get("timestamp")), field="ts")
    if ts is None:
        raise DecodeError("log record needs 'ts'")
    message = obj.get("message")
    if not isinstance(message, str):
        raise DecodeError("log record needs a string 'message'")
    labels = _labels(obj.get("labels"))
    service = obj.get("service") or labels.get("service") or "unknown"
    return LogRecord(
        ts=ts,
        service=str(service),
        level=str(obj.get("level") or "info").lower(),
        message=message,
        labels=labels,
    )


def decode_logs(data: bytes | str) -> list[LogRecord]:
    obj = loads(data)
    if isinstance(obj, Mapping) and "records" in obj:
        return [log_from_dict(r) for r in obj["records"]]
    if isinstance(obj, list):
        return [log_from_dict(r) for r in obj]
    return [log_from_dict(obj)]


def log_to_dict(record: LogRecord) -> dict[str, Any]:
    return {
        "ts": record.ts,
        "service": record.service,
        "level": record.level,
        "message": record.message,
        "labels": dict(record.labels),
    }


# ---------------------------------------------------------------- alerts


def alert_from_dict(raw: object) -> Alert:
    obj = _obj(raw, "alert")
    labels = _labels(obj.get("labels"))
    if not labels:
        raise DecodeError("alert needs a non-empty 'labels' object")
    annotations = _labels(obj.get("annotations"), "annotations")
    size = _clean_text(labels, "labels") + _clean_text(annotations, "annotations")
    if size > MAX_ALERT_TEXT:
        raise DecodeError(f"alert labels and annotations take {size} characters, "
                          f"more than {MAX_ALERT_TEXT}")
    starts_at = parse_time(obj.get("startsAt"), field="startsAt")
    ends_at = parse_time(obj.get("endsAt"), field="endsAt")
    status_raw = obj.get("status") or "firing"
    if isinstance(status_raw, Mapping):  # Alertmanager API v2 gettable alert
        status_raw = "resolved" if status_raw.get("state") == "inactive" else "firing"
    try:
        status = AlertStatus(status_raw)
    except ValueError as exc:
        raise DecodeError(f"alert status {status_raw!r} is neither firing nor resolved") from exc
    if starts_at is None:
        if ends_at is None:
            raise DecodeError("alert needs 'startsAt'")
        starts_at = ends_at
    fingerprint = obj.get("fingerprint") or ""
    if not isinstance(fingerprint, str):
        raise DecodeError("fingerprint must be a string")
    if len(fingerprint) > 32:
        raise DecodeError(f"fingerprint of {len(fingerprint)} characters, more than 32")
    generator_url = str(obj.get("generatorURL") or "")
    if _clean_text({"fingerprint": fingerprint, "generatorURL": generator_url}, "alert") > 8192:
        raise DecodeError("alert fingerprint and generatorURL take more than 8192 characters")
    return Alert(
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=generator_url,
        status=status,
        fingerprint=fingerprint,
    )


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": format_time(alert.starts_at),
        "endsAt": format_time(alert.ends_at),
        "generatorURL": alert.generator_url,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
    }


def decode_alert(data: bytes | str) -> Alert:
    return alert_from_dict(loads(data))


def encode_alert(alert: Alert) -> bytes:
    return dumps(alert_to_dict(alert))


# ---------------------------------------------------------------- incidents


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "schema": INCIDENT_SCHEMA,
        "id": incident.id,
        "version": incident.version,
        "status": incident.status.value,
        "title": incident.title,
        "severity": incident.severity,
        "opened_at": format_time(incident.opened_at),
        "updated_at": format_time(incident.updated_at),
        "resolved_at": format_time(incident.resolved_at),
        "services": list(incident.services),
        "root_causes": [
            {"service": rc.service, "score": rc.score, "evidence": list(rc.evidence)}
            for rc in incident.root_causes
        ],
        "alerts": [alert_to_dict(a) for a in incident.alerts],
        "changes": [alert_to_dict(a) for a in incident.changes],
        "timeline": [
            {
                "ts": format_time(t.ts),
                "event": t.event,
                "status": t.status.value,
                "actor": t.actor,
                "note": t.note,
            }
            for t in incident.timeline
        ],
    }


def _required_time(obj: Mapping[str, Any], key: str) -> float:
    ts = parse_time(obj.get(key), field=key)
    if ts is None:
        raise DecodeError(f"incident needs {key!r}")
    return ts


def incident_from_dict(raw: object) -> Incident:
    obj = _obj(raw, "incident")
    schema = obj.get("schema")
    if schema != INCIDENT_SCHEMA:
        raise DecodeError(f"unsupported incident schema {schema!r}, expected {INCIDENT_SCHEMA}")
    try:
        return Incident(
            id=str(obj["id"]),
            version=int(obj.get("version", 1)),
            status=IncidentStatus(obj["status"]),
            title=str(obj.get("title", "")),
            severity=str(obj.get("severity", "warning")),
            opened_at=_required_time(obj, "opened_at"),
            updated_at=_required_time(obj, "updated_at"),
            resolved_at=parse_time(obj.get("resolved_at"), field="resolved_at"),
            services=tuple(str(s) for s in obj.get("services", [])),
            root_causes=tuple(
                RootCause(
                    service=str(rc["service"]),
                    score=float(rc["score"]),
                    evidence=tuple(str(e) for e in rc.get("evidence", [])),
                )
                for rc in obj.get("root_causes", [])
            ),
            alerts=tuple(alert_from_dict(a) for a in obj.get("alerts", [])),
            changes=tuple(alert_from_dict(a) for a in obj.get("changes", [])),
            timeline=tuple(
                TimelineEntry(
                    ts=parse_time(t["ts"], field="timeline.ts") or 0.0,
                    event=str(t["event"]),
                    status=IncidentStatus(t["status"]),
                    actor=str(t.get("actor", "engine")),
                    note=str(t.get("note", "")),
                )
                for t in obj.get("timeline", [])
            ),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed incident: {exc!r}") from exc


def encode_incident(incident: Incident) -> bytes:
    return dumps(incident_to_dict(incident))


def decode_incident(data: bytes | str) -> Incident:
    return incident_from_dict(loads(data))


# ---------------------------------------------------------------- actions


def action_to_dict(action: RemediationAction) -> dict[str, Any]:
    return {
        "schema": ACTION_SCHEMA,
        "id": action.id,
        "incident_id": action.incident_id,
        "runbook": action.runbook,
        "kind": action.kind,
        "target": action.target,
        "params": dict(action.params),
        "status": action.status.value,
        "dry_run": action.dry_run,
        "reason": action.reason,
        "ts": format_time(action.ts),
    }


def action_from_dict(raw: object) -> RemediationAction:
    obj = _obj(raw, "action")
    if obj.get("schema") != ACTION_SCHEMA:
        raise DecodeError(f"unsupported action schema {obj.get('schema')!r}")
    try:
        return RemediationAction(
            id=str(obj["id"]),
            incident_id=str(obj["incident_id"]),
            runbook=str(obj["runbook"]),
            kind=str(obj["kind"]),
            target=str(obj["target"]),
            params=dict(obj.get("params") or {}),
            status=ActionStatus(obj["status"]),
            dry_run=bool(obj["dry_run"]),
            reason=str(obj.get("reason", "")),
            ts=parse_time(obj["ts"], field="ts") or 0.0,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed action: {exc!r}") from exc


def encode_action(action: RemediationAction) -> bytes:
    return dumps(action_to_dict(action))


def decode_action(data: bytes | str) -> RemediationAction:
    return action_from_dict(loads(data))


# ---------------------------------------------------------------- commands


def command_to_dict(command: IncidentCommand) -> dict[str, Any]:
    return {
        "command": command.kind.value,
        "incident_id": command.incident_id,
        "ts": command.ts,
        "actor": command.actor,
        "note": command.note,
    }


def command_from_dict(raw: object) -> IncidentCommand:
    obj = _obj(raw, "command")
    try:
        kind = CommandKind(obj["command"])
    except (KeyError, ValueError) as exc:
        raise DecodeError(f"unknown incident command {obj.get('command')!r}") from exc
    ts = parse_time(obj.get("ts"), field="ts")
    if ts is None or not obj.get("incident_id"):
        raise DecodeError("an incident command needs 'incident_id' and 'ts'")
    _clean_text({"incident_id": str(obj["incident_id"]), "actor": str(obj.get("actor") or ""),
                 "note": str(obj.get("note") or "")}, "command")
    return IncidentCommand(
        incident_id=str(obj["incident_id"]),
        kind=kind,
        ts=ts,
        actor=str(obj.get("actor") or "api"),
        note=str(obj.get("note") or ""),
    )


def decode_alert_or_command(data: bytes | str) -> Alert | IncidentCommand:
    """The correlator's input topic carries alerts and, from the API, incident commands."""
    obj = loads(data)
    if isinstance(obj, Mapping) and "command" in obj:
        return command_from_dict(obj)
    return alert_from_dict(obj)


def alert_key(alert: Alert) -> bytes:
    """Partition key of an alert: its service, so one service's alerts stay in order."""
    return alert.service.encode()
