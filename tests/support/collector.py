"""Records as the OpenTelemetry Collector's Kafka exporter writes them.

``otlp_proto``: one serialized ``Export*ServiceRequest`` per message. ``otlp_json``: the
same request in OTLP/JSON as the Collector's pdata marshaler writes it (lowerCamelCase keys,
hex trace and span ids, enums as integers, 64-bit integers as strings).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format

_IDS = ("traceId", "spanId", "parentSpanId")


def _hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _IDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex(value)
    elif isinstance(node, list):
        for item in node:
            _hex(item)


def otlp_json(request: Any) -> bytes:
    doc = json_format.MessageToDict(request, use_integers_for_enums=True)
    _hex(doc)
    return orjson.dumps(doc)


def otlp_proto(request: Any) -> bytes:
    data: bytes = request.SerializeToString()
    return data
