"""Log field mapping: our native shape, Vector and Fluent Bit records as they ship them."""

from __future__ import annotations

import orjson
import pytest

from aiops.model import DecodeError
from aiops.settings import LogMappingSettings
from aiops.wire.logmapping import LogFieldMapping, normalise_level, parse_path
from aiops.wire.shapes import decode_logs

# What Vector's kubernetes_logs source emits (JSON encoding on its kafka sink).
VECTOR = {
    "file": "/var/log/pods/shop_cart-7d9f_1/cart/0.log",
    "kubernetes": {
        "container_id": "containerd://abc", "container_image": "shop/cart:1.4",
        "container_name": "cart", "namespace_labels": {"team": "shop"},
        "pod_ip": "10.1.2.3", "pod_labels": {"app.kubernetes.io/name": "cart",
                                             "pod-template-hash": "7d9f"},
        "pod_name": "cart-7d9f", "pod_namespace": "shop", "pod_node_name": "node-1",
        "pod_uid": "1",
    },
    "message": "payment upstream timed out",
    "source_type": "kubernetes_logs",
    "stream": "stderr",
    "timestamp": "2026-11-23T10:00:00.123456789Z",
}

# What Fluent Bit's tail input + kubernetes filter emits on its kafka output
# (timestamp_key @timestamp, timestamp_format iso8601).
FLUENT_BIT = {
    "@timestamp": "2026-11-23T10:00:01.000000Z",
    "log": "ERROR connection refused to db:5432\n",
    "stream": "stderr",
    "kubernetes": {
        "pod_name": "orders-5c6b", "namespace_name": "shop", "pod_id": "2",
        "labels": {"app": "orders", "pod-template-hash": "5c6b"},
        "host": "node-2", "container_name": "orders", "docker_id": "d",
        "container_image": "shop/orders:2.0",
    },
    "level": "E",
}


def test_vector_kubernetes_record() -> None:
    record = LogFieldMapping().record(VECTOR)
    assert record.service == "cart"
    assert record.message == "payment upstream timed out"
    assert record.ts == pytest.approx(1795428000.123456)
    assert record.level == "info"  # no level field: the default
    assert record.labels == {"namespace": "shop", "pod": "cart-7d9f", "container": "cart",
                             "node": "node-1"}


def test_fluent_bit_kubernetes_record() -> None:
    record = LogFieldMapping().record(FLUENT_BIT)
    assert record.service == "orders"
    assert record.message.startswith("ERROR connection refused")
    assert record.labels["namespace"] == "shop" and record.labels["node"] == "node-2"
    assert record.ts == 1795428001.0 and record.level == "error"


def test_fluent_bit_double_timestamps_and_date_key() -> None:
    raw = {"date": 1795428001.25, "log": "x", "kubernetes": {"labels": {"app": "a"}}}
    assert LogFieldMapping().record(raw).ts == 1795428001.25


def test_native_shape_matches_the_codec() -> None:
    native = {"ts": 1795428000.5, "service": "cart", "level": "WARN", "message": "slow",
              "labels": {"region": "eu"}}
    mapped = LogFieldMapping().record(native)
    assert mapped.service == "cart" and mapped.labels == {"region": "eu"}
    assert mapped.level == "warning"
    assert decode_logs(orjson.dumps(native))[0].message == mapped.message


def test_configured_paths_from_settings() -> None:
    settings = LogMappingSettings(
        timestamp=["event.created"], message=["event.original"], level=['"log.level"'],
        service=['resource."service.name"'], labels=["attributes"],
        extra_labels={"region": ["cloud.region"], "host": []},
        default_service="unnamed",
    )
    mapping = LogFieldMapping.from_config(**settings.model_dump())
    raw = {"event": {"created": "2026-11-23T10:00:00Z", "original": "boom"},
           "log.level": "ERR", "resource": {"service.name": "payments"},
           "attributes": {"http.status": 503, "nested": {"x": 1}},
           "cloud": {"region": "eu-west-1"}, "host": "h1"}
    record = mapping.record(raw)
    assert (record.service, record.level, record.message) == ("payments", "error", "boom")
    # scalars of the labels objects become strings; nested objects are not labels
    assert record.labels == {"http.status": "503", "region": "eu-west-1"}
    assert mapping.record({"event": {"created": 1, "original": "x"}}).service == "unnamed"


def test_ecs_service_object_falls_through_to_a_scalar() -> None:
    raw = {"@timestamp": "2026-11-23T10:00:00Z", "message": "m",
           "service": {"name": "billing"}}
    assert LogFieldMapping().record(raw).service == "billing"


@pytest.mark.parametrize(("raw", "reason"), [
    ({"message": "no time"}, "no timestamp"),
    ({"timestamp": "2026-11-23T10:00:00Z"}, "no string message"),
    ({"timestamp": "yesterday", "message": "m"}, "RFC 3339"),
    (["not", "an", "object"], "JSON object"),
])
def test_malformed_records_say_why(raw: object, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        LogFieldMapping().decode(orjson.dumps([raw]))
    assert reason in info.value.reason


def test_envelopes() -> None:
    mapping = LogFieldMapping()
    assert len(mapping.decode(orjson.dumps({"records": [VECTOR, FLUENT_BIT]}))) == 2
    assert len(mapping.decode(orjson.dumps([VECTOR, VECTOR, VECTOR]))) == 3
    assert mapping.decode(orjson.dumps(VECTOR))[0].service == "cart"
    with pytest.raises(DecodeError):
        mapping.decode(b"{nope")


def test_paths_and_levels() -> None:
    assert parse_path("a.b.c") == ("a", "b", "c")
    assert parse_path('"a.b"') == ("a.b",)
    for bad in ("", "a..b", '"unclosed'):
        with pytest.raises(DecodeError):
            parse_path(bad)
    assert normalise_level("Fatal") == "critical" and normalise_level("E") == "error"
    assert normalise_level("", default="notice") == "notice"
