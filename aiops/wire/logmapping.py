"""Field mapping for log records as shippers emit them, without a remap step.

Vector's ``kubernetes_logs`` source and Fluent Bit's ``kubernetes`` filter both put the line
in a top-level field (``message`` / ``log``), the time in another (``timestamp`` /
``@timestamp`` / ``date``) and the workload identity in a nested ``kubernetes`` object whose
field names differ between the two. Rather than asking every user to write a VRL or Lua
remap, a :class:`LogFieldMapping` lists, per field of :class:`~aiops.model.LogRecord`, the
dotted paths to try in order; the defaults cover our native shape, Vector and Fluent Bit.

Paths are parsed once, when the mapping is built, not per record. A key that itself contains
dots is quoted, as in Vector's path syntax: ``kubernetes.pod_labels."app.kubernetes.io/name"``.

>>> mapping = LogFieldMapping()
>>> vector = {"timestamp": "2026-11-23T10:00:00Z", "message": "upstream timed out",
...           "kubernetes": {"pod_namespace": "shop", "pod_name": "cart-7d9f",
...                          "pod_labels": {"app.kubernetes.io/name": "cart"}},
...           "level": "ERROR"}
>>> record = mapping.record(vector)
>>> record.service, record.level, record.labels["namespace"], record.ts
('cart', 'error', 'shop', 1795428000.0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.model import DecodeError, LogRecord
from aiops.wire.shapes import loads
from aiops.wire.timefmt import parse_time

Path = tuple[str, ...]

DEFAULT_TIMESTAMP = ("ts", "timestamp", "@timestamp", "time", "date", "_time")
DEFAULT_MESSAGE = ("message", "log", "msg", "MESSAGE", "_msg")
DEFAULT_LEVEL = ("level", "severity", "log.level", "lvl", "loglevel", "severity_text")
DEFAULT_SERVICE = (
    "service",
    "labels.service",
    'kubernetes.pod_labels."app.kubernetes.io/name"',  # Vector kubernetes_logs
    "kubernetes.pod_labels.app",
    'kubernetes.labels."app.kubernetes.io/name"',      # Fluent Bit kubernetes filter
    "kubernetes.labels.app",
    "kubernetes.container_name",
    '"service.name"',                                  # OpenTelemetry resource attribute
    "service.name",
    "app",
)
DEFAULT_LABELS = ("labels",)
DEFAULT_EXTRA_LABELS: dict[str, tuple[str, ...]] = {
    "namespace": ("kubernetes.pod_namespace", "kubernetes.namespace_name"),
    "pod": ("kubernetes.pod_name",),
    "container": ("kubernetes.container_name",),
    "node": ("kubernetes.pod_node_name", "kubernetes.host"),
    "host": ("host", "hostname"),
}

_LEVEL_ALIASES = {
    "warn": "warning", "err": "error", "crit": "critical", "fatal": "critical",
    "emerg": "emergency", "eror": "error", "wrn": "warning", "inf": "info", "dbg": "debug",
    # klog/glog single letters
    "e": "error", "w": "warning", "i": "info", "d": "debug", "f": "critical",
    # syslog severities as numbers (journald PRIORITY, Fluent Bit syslog parser)
    "0": "emergency", "1": "alert", "2": "critical", "3": "error", "4": "warning",
    "5": "notice", "6": "info", "7": "debug",
}

_SEGMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|([^."]+)')


def parse_path(text: str) -> Path:
    """Split a dotted path; double-quoted segments may contain dots.

    >>> parse_path('kubernetes.pod_labels."app.kubernetes.io/name"')
    ('kubernetes', 'pod_labels', 'app.kubernetes.io/name')
    """
    segments: list[str] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise DecodeError(f"invalid field path {text!r}", kind="log mapping")
        quoted, plain = match.groups()
        segments.append(quoted.replace('\\"', '"') if quoted is not None else plain)
        pos = match.end()
        if pos < len(text):
            if text[pos] != ".":
                raise DecodeError(f"invalid field path {text!r}", kind="log mapping")
            pos += 1
    if not segments:
        raise DecodeError("empty field path", kind="log mapping")
    return tuple(segments)


def _lookup(obj: Mapping[str, Any], path: Path) -> Any:
    current: Any = obj.get(path[0])
    for segment in path[1:]:
        if current is None:
            return None
        if not isinstance(current, dict):
            return None
        current = current.get(segment)
    return current


def _first(obj: Mapping[str, Any], paths: Sequence[Path]) -> Any:
    """The first scalar found: an object at a path (ECS's ``service: {name: ...}``) is not a
    value for a scalar field, so the next path is tried."""
    for path in paths:
        if path[0] not in obj:  # most paths miss at the first key: no walk, no call
            continue
        value = _lookup(obj, path)
        if value is not None and value != "" and not isinstance(value, dict | list):
            return value
    return None


def normalise_level(raw: object, default: str = "info") -> str:
    """Lower-case level with common spellings folded (``WARN`` -> ``warning``, ``3`` ->
    ``error``).

    >>> normalise_level("WARN"), normalise_level(3), normalise_level(None)
    ('warning', 'error', 'info')
    """
    if raw is None or raw == "":
        return default
    text = str(raw).strip().lower()
    return _LEVEL_ALIASES.get(text, text)


def _paths(given: Sequence[str] | None, default: Sequence[str]) -> tuple[Path, ...]:
    return tuple(parse_path(p) for p in (given or default))


@dataclass(frozen=True)
class LogFieldMapping:
    """Where each field of a log record is found; empty arguments keep the defaults."""

    timestamp: tuple[Path, ...] = field(default_factory=lambda: _paths(None, DEFAULT_TIMESTAMP))
    message: tuple[Path, ...] = field(default_factory=lambda: _paths(None, DEFAULT_MESSAGE))
    level: tuple[Path, ...] = field(default_factory=lambda: _paths(None, DEFAULT_LEVEL))
    service: tuple[Path, ...] = field(default_factory=lambda: _paths(None, DEFAULT_SERVICE))
    labels: tuple[Path, ...] = field(default_factory=lambda: _paths(None, DEFAULT_LABELS))
    extra_labels: tuple[tuple[str, tuple[Path, ...]], ...] = field(
        default_factory=lambda: tuple(
            (name, _paths(None, paths)) for name, paths in DEFAULT_EXTRA_LABELS.items()))
    default_service: str = "unknown"
    default_level: str = "info"

    @classmethod
    def from_config(
        cls,
        *,
        timestamp: Sequence[str] = (),
        message: Sequence[str] = (),
        level: Sequence[str] = (),
        service: Sequence[str] = (),
        labels: Sequence[str] = (),
        extra_labels: Mapping[str, Sequence[str]] | None = None,
        default_service: str = "unknown",
        default_level: str = "info",
    ) -> LogFieldMapping:
        """Build from dotted-path strings (the settings' ``log_mapping`` section).

        ``extra_labels`` entries are added to (or replace, by name) the default ones.
        """
        extra = {name: tuple(paths) for name, paths in DEFAULT_EXTRA_LABELS.items()}
        extra.update({name: tuple(paths) for name, paths in (extra_labels or {}).items()})
        return cls(
            timestamp=_paths(timestamp, DEFAULT_TIMESTAMP),
            message=_paths(message, DEFAULT_MESSAGE),
            level=_paths(level, DEFAULT_LEVEL),
            service=_paths(service, DEFAULT_SERVICE),
            labels=_paths(labels, DEFAULT_LABELS),
            extra_labels=tuple((name, _paths(paths, ())) for name, paths in extra.items()
                               if paths),
            default_service=default_service,
            default_level=default_level,
        )

    def record(self, raw: object) -> LogRecord:
        """Map one decoded JSON object to a :class:`LogRecord` or raise DecodeError."""
        if not isinstance(raw, Mapping):
            raise DecodeError(f"a log record must be a JSON object, got {type(raw).__name__}")
        ts = parse_time(_first(raw, self.timestamp), field="timestamp")
        if ts is None:
            tried = ", ".join(".".join(p) for p in self.timestamp)
            raise DecodeError(f"log record has no timestamp (tried {tried})")
        message = _first(raw, self.message)
        if not isinstance(message, str):
            tried = ", ".join(".".join(p) for p in self.message)
            raise DecodeError(f"log record has no string message (tried {tried})")
        labels: dict[str, str] = {}
        for path in self.labels:
            found = _lookup(raw, path) if path[0] in raw else None
            if isinstance(found, dict):
                labels.update({str(k): str(v) for k, v in found.items()
                               if isinstance(v, str | int | float | bool)})
        for name, paths in self.extra_labels:
            value = _first(raw, paths)
            if isinstance(value, str | int | float) and name not in labels:
                labels[name] = str(value)
        service = _first(raw, self.service)
        return LogRecord(
            ts=ts,
            service=str(service) if isinstance(service, str | int) else self.default_service,
            level=normalise_level(_first(raw, self.level), self.default_level),
            message=message,
            labels=labels,
        )

    def decode(self, data: bytes | str) -> list[LogRecord]:
        """One record, a JSON array, or ``{"records": [...]}`` per Kafka message (the same
        envelopes as :func:`aiops.wire.shapes.decode_logs`)."""
        obj = loads(data)
        if isinstance(obj, Mapping) and isinstance(obj.get("records"), list):
            return [self.record(r) for r in obj["records"]]
        if isinstance(obj, list):
            return [self.record(r) for r in obj]
        return [self.record(obj)]
