"""Logging of the engine's processes: JSON lines by default, plain text for a terminal, and
a counter per event on ``/metrics``.

Events are ordinary log calls that carry an ``event`` name and their fields in ``extra``, so
code in any layer emits them with the standard library only (``remediation`` and ``streams``
cannot import ``aiops``)::

    log.info("notification sent", extra={"event": "notification.sent",
                                         "destination": "slack", "incident": "i-1"})

The JSON formatter writes every ``extra`` field next to ``ts``, ``level``, ``logger`` and
``msg``; :class:`EventCounter` counts each event in ``aiops_events_total{event=...}`` on the
engine's registry. Names in use: ``incident.<opened|acknowledged|resolved|reopened|updated>``,
``notification.<sent|failed|retried|dropped>``, ``remediation.<decision>``,
``worker.<assigned|revoked>``.

>>> import io
>>> record = logging.LogRecord("aiops.x", logging.INFO, "", 0, "sent %s", ("it",), None)
>>> record.event, record.destination = "notification.sent", "slack"
>>> line = JsonFormatter().format(record)
>>> sorted(orjson.loads(line))
['destination', 'event', 'level', 'logger', 'msg', 'ts']
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

#: Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "color_message"}  # the last: uvicorn's terminal copy of msg


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, message, the ``extra``
    fields, and the traceback as ``exc`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = _plain(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out).decode()


class TextFormatter(logging.Formatter):
    """Plain lines; an event's name is appended so it can still be grepped for."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        event = getattr(record, "event", None)
        return f"{line} [{event}]" if event else line


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """The root handler of a process (replaces any earlier one): stderr, JSON or text.

    The level filters what is written; the root logger itself stays at INFO at least, so
    events are still created and counted when only warnings are written.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.setLevel(level.upper())
    root = logging.getLogger()
    for old in list(root.handlers):
        if not isinstance(old, EventCounter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(min(logging.getLevelName(level.upper()), logging.INFO))
    logging.getLogger("httpx").setLevel(logging.WARNING)


class EventCounter(logging.Handler):
    """Counts log records that carry an ``event`` in ``aiops_events_total``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(level=logging.DEBUG)
        self.counter = Counter("aiops_events_total",
                               "Engine events (incident changes, notifications, remediation "
                               "decisions, worker assignments), as logged.", ["event"],
                               registry=registry)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if isinstance(event, str):
            self.counter.labels(event).inc()


def count_events(registry: CollectorRegistry) -> EventCounter:
    """Attach an :class:`EventCounter` for ``registry`` to the ``aiops``-wide loggers.

    Events are logged at INFO, so the root logger is kept at INFO at least (what is written
    is filtered by the stream handler's own level, see :func:`configure_logging`).
    """
    counter = EventCounter(registry)
    root = logging.getLogger()
    root.addHandler(counter)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return counter


def stop_counting(counter: EventCounter) -> None:
    logging.getLogger().removeHandler(counter)


def notification_event(outcome: str, row: Any, error: str = "") -> dict[str, Any]:
    """The fields of a ``notification.<outcome>`` event for an outbox row."""
    fields = {"event": f"notification.{outcome}", "destination": row.destination,
              "key": row.dedup_key, "attempts": row.attempts}
    if error:
        fields["error"] = error[:500]
    return fields


def incident_event(incident: Any) -> dict[str, Any]:
    """The fields of an ``incident.<change>`` event: the change is the newest timeline
    entry's (opened, acknowledged, resolved, reopened, ...), else ``updated``."""
    timeline = getattr(incident, "timeline", ())
    change = timeline[-1].event if timeline else "updated"
    if not change.isidentifier():
        change = "updated"
    return {"event": f"incident.{change}", "incident": incident.id,
            "version": incident.version, "status": incident.status.value,
            "alerts": len(incident.alerts), "services": list(incident.services)[:20]}
