"""The remote write receiver on the real local broker: decode, key, 204/400/413/503."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import cramjam
import orjson
import pytest
from fastapi.testclient import TestClient

import aiops.wire.remote_write as rw
from aiops.api.remote_write import records_for
from aiops.app import Engine
from aiops.model import DecodeError
from aiops.settings import Settings
from aiops.wire.protobuf import encode_varint
from aiops.wire.remote_write import encode_field as field
from aiops.wire.shapes import decode_metrics
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics
from tests.support.kafka import read_topic

STALE = struct.unpack("<d", struct.pack("<Q", rw.STALE_NAN_BITS))[0]
HEADERS = {"content-type": "application/x-protobuf", "content-encoding": "snappy",
           "x-prometheus-remote-write-version": "0.1.0"}


def _snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def test_decoder_groups_by_service_and_drops_stale_and_nan() -> None:
    body = rw.encode_write_request([
        ({"__name__": "http_requests_total", "job": "cart", "code": "200"},
         [(10.0, 1_790_000_000_000), (11.0, 1_790_000_001_000)]),
        ({"__name__": "latency_ms", "service": "checkout", "job": "node"},
         [(STALE, 1_790_000_000_000), (float("nan"), 1_790_000_000_500),
          (float("inf"), 1_790_000_000_700), (3.5, 1_790_000_001_000)]),
        ({"__name__": "up"}, [(1.0, -5)]),
    ])
    decoded = rw.RemoteWriteDecoder().decode(body)
    assert decoded.series == 3 and decoded.samples == 3
    assert decoded.stale == 1 and decoded.non_finite == 2
    assert decoded.out_of_range == 1  # before the epoch: dropped and counted, never forwarded
    assert set(decoded.by_service) == {"cart", "checkout", "unknown"}
    cart = decoded.by_service["cart"]
    assert [s["value"] for s in cart] == [10.0, 11.0]
    assert cart[0]["labels"] == {"job": "cart", "code": "200"}
    assert cart[0]["ts"] == 1_790_000_000.0
    # the service label wins over job, as everywhere in the engine
    assert decoded.by_service["checkout"][0]["labels"]["job"] == "node"
    assert decoded.by_service["unknown"] == []
    records = records_for(decoded, "m")
    samples = [s for r in records for s in decode_metrics(r.value)]
    assert all(math.isfinite(s.value) for s in samples) and len(samples) == 3


def test_decoder_skips_unknown_fields_and_accepts_any_field_order() -> None:
    label = field(1, b"__name__") + field(2, b"up")
    job = field(1, b"job") + field(2, b"db")
    sample = b"\x09" + struct.pack("<d", 2.0) + b"\x10" + encode_varint(1000)
    exemplar = field(3, b"\x0a\x00")  # TimeSeries.exemplars: skipped
    series = field(2, sample) + field(1, label) + exemplar + field(1, job)
    metadata = field(3, b"\x08\x01\x12\x02up")  # WriteRequest.metadata: a counter
    varint_field = b"\x20\x96\x01"  # an unknown varint field 4 at the top level
    decoded = rw.RemoteWriteDecoder().decode(metadata + field(1, series) + varint_field)
    assert decoded.by_service["db"] == [{"name": "up", "labels": {"job": "db"}, "ts": 1.0,
                                          "value": 2.0, "type": "counter"}]
    assert decoded.metadata == 1


@pytest.mark.parametrize("body", [
    b"\x0a\x50\x0a",                              # series longer than the request
    b"\x0a\x03\x12\x01\x09",                     # truncated sample
    field(1, field(1, field(2, b"x")) + field(2, b"\x09" + b"\0" * 8)),  # no name
    b"\x0f",                                     # wire type 7
])
def test_decoder_refuses_malformed_bodies(body: bytes) -> None:
    with pytest.raises(DecodeError):
        rw.RemoteWriteDecoder().decode(body)


def test_label_cache_is_bounded() -> None:
    decoder = rw.RemoteWriteDecoder(cache_limit=10)
    for i in range(25):
        decoder.decode(rw.encode_write_request([({"__name__": "m", "i": str(i)}, [(1.0, 1)])]))
    assert len(decoder._cache) <= 10


# ------------------------------------------------------------------ over HTTP, real broker


@pytest.fixture
def engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[Engine]:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    settings.api.bearer_token = "s3cret"
    settings.api.max_body_bytes = 64 * 1024
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    yield eng


AUTH = {**HEADERS, "authorization": "Bearer s3cret"}


@pytest.mark.broker
def test_samples_land_on_the_metrics_topic_keyed_by_service(engine: Engine) -> None:
    client = TestClient(engine.api())
    body = rw.encode_write_request([
        ({"__name__": "latency_ms", "job": "cart", "instance": f"c{i}"},
         [(float(i), 1_790_000_000_000 + i)]) for i in range(3)
    ] + [({"__name__": "latency_ms", "job": "db"}, [(STALE, 1_790_000_000_000)])])
    response = client.post("/api/v1/write", content=_snappy(body), headers=AUTH)
    assert response.status_code == 204, response.text
    messages = read_topic(engine.kafka, engine.topics.metrics, expect=1)
    assert len(messages) == 1 and messages[0][0] == b"cart"
    samples = decode_metrics(messages[0][1])
    assert sorted(s.labels["instance"] for s in samples) == ["c0", "c1", "c2"]
    assert orjson.loads(messages[0][1])["samples"][0]["name"] == "latency_ms"
    text = client.get("/metrics").text
    assert 'aiops_remote_write_dropped_samples_total{reason="stale"} 1.0' in text
    assert 'aiops_receiver_items_total{receiver="remote_write"} 3.0' in text


@pytest.mark.broker
def test_refusals(engine: Engine) -> None:
    client = TestClient(engine.api())
    good = _snappy(rw.encode_write_request([({"__name__": "up", "job": "x"}, [(1.0, 1)])]))
    no_auth = client.post("/api/v1/write", content=good, headers=HEADERS)
    assert no_auth.status_code == 401 and "Bearer" in no_auth.headers["www-authenticate"]
    not_snappy = client.post("/api/v1/write", content=b"\xff\xff\xff\xff\x0f garbage",
                             headers=AUTH)
    assert not_snappy.status_code in (400, 413)
    garbage = client.post("/api/v1/write", content=_snappy(b"\x0a\x50\x0a"), headers=AUTH)
    assert garbage.status_code == 400 and "overruns" in garbage.json()["detail"]
    bad_snappy = client.post("/api/v1/write", content=b"\x05abc", headers=AUTH)
    assert bad_snappy.status_code == 400 and "snappy" in bad_snappy.json()["detail"]
    gzip = client.post("/api/v1/write", content=good, headers={**AUTH, "content-encoding": "gzip"})
    assert gzip.status_code == 415
    v2 = client.post("/api/v1/write", content=good, headers={
        **AUTH, "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"})
    assert v2.status_code == 415 and "1.0" in v2.json()["detail"]
    v1 = client.post("/api/v1/write", content=good, headers={
        **AUTH, "content-type": "application/x-protobuf;proto=prometheus.WriteRequest"})
    assert v1.status_code == 204
    huge = client.post("/api/v1/write", content=b"\0" * (65 * 1024), headers=AUTH)
    assert huge.status_code == 413
    bomb = client.post("/api/v1/write", content=encode_varint(1 << 30) + b"\0",
                       headers=AUTH)
    assert bomb.status_code == 413
    assert client.post("/api/v1/write", content=good, headers=AUTH).status_code == 204


@pytest.mark.broker
def test_503_when_the_broker_does_not_acknowledge(engine: Engine) -> None:
    # A producer pointed at a closed port: nothing acknowledges, so Prometheus must retry.
    dead = EventProducer(KafkaConfig(bootstrap_servers="127.0.0.1:1"),
                         overrides={"message.timeout.ms": 1500, "log_level": 0})
    engine.settings.api.publish_timeout_s = 1.0
    client = TestClient(engine.api(producer=dead))
    good = _snappy(rw.encode_write_request([({"__name__": "up", "job": "x"}, [(1.0, 1)])]))
    response = client.post("/api/v1/write", content=good, headers=AUTH)
    assert response.status_code == 503 and response.headers["retry-after"]


def test_fast_and_general_paths_agree() -> None:
    series = [({"__name__": f"m{i}", "job": f"j{i % 3}"}, [(float(i), 1_795_428_000_000 + i)])
              for i in range(20)]
    fast = rw.RemoteWriteDecoder().decode(rw.encode_write_request(series))
    # two samples per series (and an old, short timestamp) take the general path
    doubled = [(labels, [*samples, (samples[0][0], 5)]) for labels, samples in series]
    general = rw.RemoteWriteDecoder().decode(rw.encode_write_request(doubled))
    assert general.samples == 2 * fast.samples == 40
    for service, samples in fast.by_service.items():
        assert general.by_service[service][::2] == samples
        assert {s["ts"] for s in general.by_service[service][1::2]} == {0.005}


def test_corrupted_bodies_raise_decode_errors_only() -> None:
    rng = random.Random(3)
    base = rw.encode_write_request([
        ({"__name__": f"m{i}", "job": f"j{i % 3}", "x": "y" * i}, [(float(i), 1_795_428_000_000)])
        for i in range(30)])
    refused = 0
    for _ in range(3000):
        body = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(body))
            op = rng.random()
            if op < 0.5:
                body[i] = rng.randrange(256)
            elif op < 0.75:
                del body[i:i + rng.randint(1, 5)]
            else:
                body[i:i] = rng.randbytes(rng.randint(1, 3))
        try:
            rw.RemoteWriteDecoder().decode(bytes(body))
        except DecodeError:
            refused += 1
    assert refused > 1000  # most corruptions are caught, and none escapes as another error
