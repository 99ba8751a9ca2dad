"""OpenAPI request bodies of the routes that read their body by hand (for speed, for the
body limit, or because it is not JSON), so clients and API fuzzers see what they accept."""

from __future__ import annotations

from typing import Any

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": "string", "description": "RFC 3339"}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


WEBHOOK = json_body({
    "type": "object",
    "required": ["version", "alerts"],
    "properties": {
        "version": {"type": "string", "enum": ["4"]},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "groupLabels": _LABELS, "commonLabels": _LABELS, "commonAnnotations": _LABELS,
        "externalURL": {"type": "string"},
        "alerts": {"type": "array", "items": {
            "type": "object",
            "required": ["labels"],
            "properties": {
                "status": {"type": "string", "enum": ["firing", "resolved"]},
                "labels": {**_LABELS, "minProperties": 1},
                "annotations": _LABELS,
                "startsAt": _TIME, "endsAt": _TIME,
                "generatorURL": {"type": "string"},
                "fingerprint": {"type": "string"},
            },
        }},
    },
})

SILENCE = json_body({
    "type": "object",
    "required": ["matchers", "endsAt"],
    "properties": {
        "id": {"type": "string"},
        "matchers": {"type": "array", "minItems": 1, "items": {"oneOf": [
            {"type": "string", "description": 'e.g. service=~"db-.*"'},
            {"type": "object", "required": ["name", "value"], "properties": {
                "name": {"type": "string"}, "value": {"type": "string"},
                "isRegex": {"type": "boolean"}, "isEqual": {"type": "boolean"}}},
        ]}},
        "startsAt": _TIME, "endsAt": _TIME,
        "createdBy": {"type": "string"}, "comment": {"type": "string"},
    },
})

TOPOLOGY_UPDATE = json_body({
    "type": "object",
    "required": ["op"],
    "properties": {
        "op": {"type": "string",
               "enum": ["add_node", "remove_node", "add_edge", "remove_edge", "replace"]},
        "name": {"type": "string"}, "source": {"type": "string"}, "target": {"type": "string"},
        "topology": {"type": "object"},
    },
})

REMOTE_WRITE = {"requestBody": {"required": True, "content": {"application/x-protobuf": {
    "schema": {"type": "string", "format": "binary",
               "description": "snappy-compressed prometheus.WriteRequest"}}}}}
