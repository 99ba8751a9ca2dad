"""OTLP log records as the engine's :class:`~aiops.model.LogRecord`.

The level comes from ``severity_text`` when the sender set one, else from
``severity_number`` by its ranges in the OpenTelemetry data model (1-4 trace, 5-8 debug,
9-12 info, 13-16 warn, 17-20 error, 21-24 fatal), folded into the engine's level names by
:func:`aiops.wire.logmapping.normalise_level`'s spellings (``warning``, ``critical``). The time is
the record's ``time_unix_nano``, else its ``observed_time_unix_nano``: a record with neither
is counted as skipped, since the engine works in event time. Labels are the resource's
(service, pod, host...); a body that is not a string is written as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops.model import LogRecord
from aiops.wire.otlp.attributes import UNKNOWN_SERVICE, resource_labels, text_of

_BY_NUMBER = ((0, "info"), (4, "trace"), (8, "debug"), (12, "info"), (16, "warning"),
              (20, "error"), (24, "critical"))
_TEXT = {"warn": "warning", "fatal": "critical", "err": "error", "crit": "critical"}


def level_of(number: int, text: str) -> str:
    """The engine's level for a severity.

    >>> level_of(17, ""), level_of(0, "WARN"), level_of(9, "Information"), level_of(0, "")
    ('error', 'warning', 'information', 'info')
    """
    if text:
        low = text.strip().lower()
        base = low.rstrip("0123456789")  # "ERROR2", "INFO3" are levels with a sub-rank
        return _TEXT.get(base, base or low)
    if number <= 0:
        return "info"
    for upper, name in _BY_NUMBER[1:]:
        if number <= upper:
            return name
    return "critical"


@dataclass(slots=True)
class DecodedLogs:
    records: list[LogRecord] = field(default_factory=list)
    skipped: int = 0


def decode_logs(request: Any, resource_map: Mapping[str, str]) -> DecodedLogs:
    """Every log record of an ``ExportLogsServiceRequest``."""
    out = DecodedLogs()
    for rl in request.resource_logs:
        labels = resource_labels(rl.resource.attributes, resource_map)
        service = labels.get("service") or UNKNOWN_SERVICE
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                nanos = rec.time_unix_nano or rec.observed_time_unix_nano
                if not nanos:
                    out.skipped += 1
                    continue
                out.records.append(LogRecord(
                    ts=nanos / 1e9, service=service,
                    level=level_of(rec.severity_number, rec.severity_text),
                    message=text_of(rec.body), labels=dict(labels)))
    return out
