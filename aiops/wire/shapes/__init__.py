"""The JSON shapes (orjson) of everything that crosses a topic, one module per kind of record.

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

from aiops.wire.shapes.actions import (
    action_from_dict,
    action_to_dict,
    decode_action,
    encode_action,
)
from aiops.wire.shapes.alerts import (
    alert_from_dict,
    alert_key,
    alert_to_dict,
    decode_alert,
    encode_alert,
)
from aiops.wire.shapes.base import (
    ACTION_SCHEMA,
    INCIDENT_SCHEMA,
    MAX_ALERT_TEXT,
    dumps,
    loads,
)
from aiops.wire.shapes.commands import (
    command_from_dict,
    command_to_dict,
    decode_alert_or_command,
)
from aiops.wire.shapes.incidents import (
    decode_incident,
    encode_incident,
    incident_from_dict,
    incident_to_dict,
)
from aiops.wire.shapes.logs import (
    decode_logs,
    log_from_dict,
    log_to_dict,
)
from aiops.wire.shapes.metrics import (
    METRIC_TYPES,
    decode_metric_columns,
    decode_metrics,
    encode_metric_series,
    encode_metrics,
    metric_from_dict,
    metric_to_dict,
)

__all__ = [
    "ACTION_SCHEMA",
    "INCIDENT_SCHEMA",
    "MAX_ALERT_TEXT",
    "METRIC_TYPES",
    "action_from_dict",
    "action_to_dict",
    "alert_from_dict",
    "alert_key",
    "alert_to_dict",
    "command_from_dict",
    "command_to_dict",
    "decode_action",
    "decode_alert",
    "decode_alert_or_command",
    "decode_incident",
    "decode_logs",
    "decode_metric_columns",
    "decode_metrics",
    "dumps",
    "encode_action",
    "encode_alert",
    "encode_incident",
    "encode_metric_series",
    "encode_metrics",
    "incident_from_dict",
    "incident_to_dict",
    "loads",
    "log_from_dict",
    "log_to_dict",
    "metric_from_dict",
    "metric_to_dict",
]
