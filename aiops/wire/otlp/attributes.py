"""Attribute values and resource attributes as the engine's labels.

The topology mapping (``topology.mapping.LabelMapper``) finds a node by the labels ``pod``,
``service``, ``job``, ``app``, ``host``, ``node`` and ``instance``; OpenTelemetry names the
same things with semantic-convention resource attributes. :data:`RESOURCE_LABELS` maps the
ones that identify where telemetry came from; other resource attributes (``process.pid``,
``telemetry.sdk.*``...) are left out, because every label multiplies the series a detector
keeps. Data-point attributes are kept, with Prometheus-style names (dots to underscores).

>>> from opentelemetry.proto.common.v1.common_pb2 import KeyValue, AnyValue
>>> attrs = [KeyValue(key="service.name", value=AnyValue(string_value="cart")),
...          KeyValue(key="k8s.pod.name", value=AnyValue(string_value="cart-7d9f")),
...          KeyValue(key="process.pid", value=AnyValue(int_value=7))]
>>> resource_labels(attrs, RESOURCE_LABELS)
{'service': 'cart', 'pod': 'cart-7d9f'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson

RESOURCE_LABELS: dict[str, str] = {
    "service.name": "service",
    "service.namespace": "service_namespace",
    "service.instance.id": "instance",
    "k8s.pod.name": "pod",
    "k8s.namespace.name": "namespace",
    "k8s.node.name": "node",
    "k8s.container.name": "container",
    "k8s.deployment.name": "deployment",
    "host.name": "host",
    "deployment.environment": "environment",
    "deployment.environment.name": "environment",
}
"""Resource attribute -> label; the ``otlp.resource_labels`` setting replaces it."""

UNKNOWN_SERVICE = "unknown_service"
"""The SDKs' own default ``service.name`` when none is configured."""

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


@lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    """A Prometheus-style label name for an attribute key.

    >>> label_name("http.response.status_code"), label_name("9lives")
    ('http_response_status_code', 'key_9lives')
    """
    name = _INVALID.sub("_", key)
    return f"key_{name}" if name[:1].isdigit() else name


def value_of(any_value: Any) -> Any:
    """The Python value of an ``AnyValue`` (nested arrays and maps included)."""
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in any_value.kvlist_value.values}
    if which == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, which)


def text_of(any_value: Any) -> str:
    """An ``AnyValue`` as label or message text: strings as they are, the rest as JSON."""
    which = any_value.WhichOneof("value")
    if which == "string_value":
        text: str = any_value.string_value
        return text
    value = value_of(any_value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def attributes(kvs: Iterable[Any]) -> dict[str, str]:
    """Attributes as ``{label name: text}``."""
    return {label_name(kv.key): text_of(kv.value) for kv in kvs}


def raw_attributes(kvs: Iterable[Any]) -> dict[str, Any]:
    """Attributes as ``{key: python value}`` with their original keys."""
    return {kv.key: value_of(kv.value) for kv in kvs}


def resource_labels(kvs: Iterable[Any], mapping: Mapping[str, str]) -> dict[str, str]:
    """The labels a resource contributes, in the order of its attributes."""
    labels: dict[str, str] = {}
    for kv in kvs:
        name = mapping.get(kv.key)
        if name is not None and name not in labels:
            text = text_of(kv.value)
            if text:
                labels[name] = text
    return labels
