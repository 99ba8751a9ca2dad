"""OTLP throughput: the OTLP/HTTP receivers and the Kafka input (the ``otlp`` stage), next to
the remote write receiver in the same run.

1. HTTP, as ``benchmarks/receiver_http.py`` measures remote write: the local broker, ONE API
   process (uvicorn) on loopback, ``wrk`` (Debian package ``wrk``) in closed loop; every
   answer counted was a 2xx given after the broker acknowledged. Rows: remote write with
   2000 samples/request (the peer), OTLP metrics with 2000 data points/request, OTLP traces
   with 512 spans/request (the SDK's batch size) in protobuf and in JSON.
2. Kafka input: the ``otlp`` stage's ``handle`` on Collector-format records (one
   ``Export*ServiceRequest`` per record, otlp_proto and otlp_json), timed in CPU seconds of
   this process: data points and spans per CPU-second, mapping and output encoding included
   (consuming and producing are librdkafka's, measured in the detection benchmarks).

    python benchmarks/otlp_ingest.py [--duration 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aiops.ingest.red import RedAggregator
from aiops.stages.otlp import OtlpIngestStage
from benchmarks.receiver_http import _cpu_seconds, _remote_write_bodies, _serve, _wrk
from streams.broker import LocalBroker
from streams.stage import Incoming
from streams.topics import Topics
from tests.support.collector import otlp_json

POINTS_PER_REQUEST = 2000
SPANS_PER_REQUEST = 512
BODIES = 5
T0_NS = 1_795_428_000 * 10**9


def _attr(kvs: Any, key: str, value: str | int) -> None:
    kv = kvs.add(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value


def _resource(entry: Any, service: str) -> None:
    for key, value in (("service.name", service), ("k8s.pod.name", f"{service}-7d9f"),
                       ("host.name", "node-1"), ("k8s.namespace.name", "shop")):
        _attr(entry.resource.attributes, key, value)


def metric_bodies(step: int = 0) -> list[bytes]:
    """2000 points per request: 40 gauges x 50 attribute sets, one service per request."""
    bodies = []
    for b in range(BODIES):
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        _resource(rm, f"svc{b}")
        sm = rm.scope_metrics.add()
        for m in range(POINTS_PER_REQUEST // 50):
            metric = sm.metrics.add(name=f"http.server.active_requests_{m}", unit="{request}")
            for i in range(50):
                p = metric.gauge.data_points.add(time_unix_nano=T0_NS + step * 10**10,
                                                 as_double=random.random() * 100)
                _attr(p.attributes, "http.route", f"/api/v{i % 3}/items/{i}")
                _attr(p.attributes, "http.request.method", "GET")
        bodies.append(request.SerializeToString())
    return bodies


def span_bodies(step: int = 0, count: int = BODIES) -> list[ExportTraceServiceRequest]:
    rng = random.Random(step)
    out = []
    for b in range(count):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        _resource(rs, f"svc{b % 5}")
        ss = rs.scope_spans.add()
        for i in range(SPANS_PER_REQUEST):
            start = T0_NS + step * 10**9 + i * 10**6
            span = ss.spans.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8),
                                parent_span_id=rng.randbytes(8) if i % 2 else b"",
                                name="GET /api/items", kind=2 + i % 2,
                                start_time_unix_nano=start,
                                end_time_unix_nano=start + rng.randint(10**6, 10**8))
            _attr(span.attributes, "http.request.method", "GET")
            _attr(span.attributes, "http.route", "/api/items/{id}")
            _attr(span.attributes, "http.response.status_code", 200)
            if i % 2:
                _attr(span.attributes, "peer.service", f"svc{(b + 1) % 5}")
        out.append(request)
    return out


def kafka_input(rounds: int = 30) -> dict[str, float]:
    """Items per CPU-second of the otlp stage on Collector-format records."""
    topics = Topics()
    results: dict[str, float] = {}
    for label, json in (("otlp_proto", False), ("otlp_json", True)):
        stage = OtlpIngestStage(topics, red=RedAggregator())
        spent, items = 0.0, 0
        for step in range(rounds):
            metrics = metric_bodies(step)
            records = [Incoming(topics.otlp_metrics, otlp_json(
                ExportMetricsServiceRequest.FromString(m)) if json else m) for m in metrics]
            start = time.process_time()
            stage.handle(records)
            spent += time.process_time() - start
            items += POINTS_PER_REQUEST * len(records)
        results[f"metric points/s, {label}"] = items / spent
        stage = OtlpIngestStage(topics, red=RedAggregator())
        spent, items = 0.0, 0
        for step in range(rounds):
            requests = span_bodies(step)
            records = [Incoming(topics.otlp_spans,
                                otlp_json(r) if json else r.SerializeToString())
                       for r in requests]
            start = time.process_time()
            stage.handle(records)
            spent += time.process_time() - start
            items += SPANS_PER_REQUEST * len(records)
        results[f"spans/s, {label}"] = items / spent
    return results


def json_readers(rounds: int = 10) -> dict[str, float]:
    """Spans/s parsing OTLP/JSON: the engine's reader against ``json_format`` (the protobuf
    package's own, given base64 ids since it cannot read OTLP's hex ones), interleaved."""
    from google.protobuf import json_format

    from aiops.wire.otlp.body import Signal, parse

    requests = span_bodies(0, 3)
    ours = [otlp_json(r) for r in requests]
    reference = [json_format.MessageToJson(r) for r in requests]
    spent = {"aiops.wire.otlp.body.parse": 0.0, "json_format.Parse": 0.0}
    for _ in range(rounds):
        start = time.process_time()
        for data in ours:
            parse(Signal.TRACES, data, json=True)
        spent["aiops.wire.otlp.body.parse"] += time.process_time() - start
        start = time.process_time()
        for text in reference:
            json_format.Parse(text, ExportTraceServiceRequest())
        spent["json_format.Parse"] += time.process_time() - start
    return {k: rounds * len(requests) * SPANS_PER_REQUEST / v for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-http", action="store_true", help="skip the wrk part")
    opts = parser.parse_args()
    print("OTLP/JSON readers, spans per CPU-second:")
    for label, rate in json_readers().items():
        print(f"  {label:32s} {rate:12,.0f}")
    print("Kafka input (otlp stage), items per CPU-second of one process:")
    for label, rate in kafka_input().items():
        print(f"  {label:32s} {rate:12,.0f}")
    if opts.no_http:
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    rng = random.Random(1)
    with LocalBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = 18000 + random.Random().randint(0, 2000)
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(broker.bootstrap_servers, port, str(workdir / "db"),
                                 f"bench{uuid.uuid4().hex[:6]}"), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not server.is_alive():
                raise SystemExit("the API did not start")
            time.sleep(0.2)
        assert server.pid is not None
        auth = {"Authorization": "Bearer bench-token"}
        proto = {**auth, "Content-Type": "application/x-protobuf"}
        spans = span_bodies()
        scenarios: list[tuple[str, str, list[bytes], dict[str, str], int]] = [
            ("remote write, 2000 samples/request", "/api/v1/write", _remote_write_bodies(rng),
             {**proto, "Content-Encoding": "snappy",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}, 2000),
            ("OTLP metrics protobuf, 2000 points", "/v1/metrics", metric_bodies(), proto,
             POINTS_PER_REQUEST),
            ("OTLP traces protobuf, 512 spans", "/v1/traces",
             [s.SerializeToString() for s in spans], proto, SPANS_PER_REQUEST),
            ("OTLP traces JSON, 512 spans", "/v1/traces", [otlp_json(s) for s in spans],
             {**auth, "Content-Type": "application/json"}, SPANS_PER_REQUEST),
        ]
        print(f"\nwrk -t1 -c{opts.connections} -d{opts.duration}s, one API process:")
        print(f"  {'scenario':40s} {'req/s':>8s} {'items/s':>10s} {'p50 ms':>8s} "
              f"{'p99 ms':>8s} {'API CPU s/s':>11s} {'items/CPU-s':>12s}")
        for label, path, bodies, headers, items in scenarios:
            _wrk(url, path, bodies, headers, 2, opts.connections, workdir)
            cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
            result = _wrk(url, path, bodies, headers, opts.duration, opts.connections, workdir)
            cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0)
            rate = result["rps"] * items
            print(f"  {label:40s} {result['rps']:8,.0f} {rate:10,.0f} "
                  f"{result['p50_ms']:8.2f} {result['p99_ms']:8.2f} {cpu:11.2f} "
                  f"{rate / cpu if cpu else 0:12,.0f}")
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
