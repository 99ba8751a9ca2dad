"""HTTP receivers under load: remote write samples/s and webhook alerts/s, with p99 latency.

Starts the local broker, runs ONE API process (uvicorn, as ``aiops api`` does) on loopback,
and drives it with ``wrk`` (Debian package ``wrk``) in closed loop: every answer counted was
a 2xx given after the broker acknowledged. Peers measured in the same run:

* ``GET /healthz`` on the same server: the framework's ceiling (no body, no Kafka);
* the remote write decoder against the ``protobuf`` (upb) runtime on the same bodies.

The broker, the API process and wrk share the machine's 2 cores, so the numbers are a floor
for a deployment where the broker runs elsewhere.

    python benchmarks/receiver_http.py [--duration 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import cramjam
import httpx
import orjson

from aiops.wire.remote_write import RemoteWriteDecoder, encode_write_request
from streams.broker import LocalBroker

SERIES_PER_REQUEST = 2000  # Prometheus' max_samples_per_send in docs/prometheus.yml
BODIES = 5  # rotated, so 10k distinct series as from a mid-size Prometheus

LUA = """
local bodies = {}
for i = 1, %(count)d do
  local f = assert(io.open("%(prefix)s" .. i .. ".bin", "rb"))
  bodies[i] = f:read("*all")
  f:close()
end
local headers = {}
%(headers)s
local n = 0
request = function()
  n = n %% %(count)d + 1
  return wrk.format("POST", "%(path)s", headers, bodies[n])
end
"""


def _serve(bootstrap: str, port: int, db: str, prefix: str) -> None:
    import uvicorn

    from aiops.app import Engine
    from aiops.settings import Settings

    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{db}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, f"{prefix}.{name}")
    settings.api.bearer_token = "bench-token"
    engine = Engine.build(settings, bootstrap)
    engine.ensure_topics()
    uvicorn.run(engine.api(), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _remote_write_bodies(rng: random.Random) -> list[bytes]:
    bodies = []
    ts = 1_795_428_000_000
    for b in range(BODIES):
        series = []
        for i in range(SERIES_PER_REQUEST):
            s = b * SERIES_PER_REQUEST + i
            labels = {"__name__": f"http_requests_{s % 40}", "job": f"svc{s % 20}",
                      "instance": f"10.0.{s % 7}.{s % 250}:9100", "method": "GET",
                      "code": "200", "route": f"/api/v{s % 3}/items/{s % 97}"}
            series.append((labels, [(rng.random() * 100, ts)]))
        bodies.append(bytes(cramjam.snappy.compress_raw(encode_write_request(series))))
    return bodies


def _webhook_bodies(alerts_per_request: int, rng: random.Random) -> list[bytes]:
    bodies = []
    for b in range(BODIES):
        alerts = [{
            "status": "firing",
            "labels": {"alertname": f"Alert{(b * 97 + i) % 50}", "service": f"svc{i % 20}",
                       "severity": "warning", "instance": f"10.0.0.{i}:9100"},
            "annotations": {"summary": "something is off", "description": "x" * 80},
            "startsAt": "2026-11-23T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": f"{rng.getrandbits(64):016x}",
        } for i in range(alerts_per_request)]
        bodies.append(orjson.dumps({
            "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "aiops", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "alerts": alerts,
        }))
    return bodies


def _wrk(url: str, path: str, bodies: list[bytes] | None, headers: dict[str, str],
         duration: int, connections: int, workdir: Path) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if bodies is not None:
        prefix = str(workdir / f"body-{uuid.uuid4().hex[:6]}-")
        for i, body in enumerate(bodies, 1):
            Path(f"{prefix}{i}.bin").write_bytes(body)
        lines = "\n".join(f'headers["{k}"] = "{v}"' for k, v in headers.items())
        script = workdir / f"{uuid.uuid4().hex[:6]}.lua"
        script.write_text(LUA % {"count": len(bodies), "prefix": prefix, "headers": lines,
                                 "path": path})
        args += ["-s", str(script)]
    out = subprocess.run([*args, url + path], capture_output=True, text=True,
                         check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{path}: {non2xx.group(1)} non-2xx answers\n{out}")

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert match, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99")}


def _decoder_peers(bodies: list[bytes], rounds: int = 20) -> dict[str, float]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    raw = [bytes(cramjam.snappy.decompress_raw(b)) for b in bodies]
    fdp = descriptor_pb2.FileDescriptorProto(name="rw.proto", package="prometheus",
                                             syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto
    for name, fields in [
        ("Label", [("name", 1, f.TYPE_STRING, ""), ("value", 2, f.TYPE_STRING, "")]),
        ("Sample", [("value", 1, f.TYPE_DOUBLE, ""), ("timestamp", 2, f.TYPE_INT64, "")]),
        ("TimeSeries", [("labels", 1, f.TYPE_MESSAGE, ".prometheus.Label"),
                        ("samples", 2, f.TYPE_MESSAGE, ".prometheus.Sample")]),
        ("WriteRequest", [("timeseries", 1, f.TYPE_MESSAGE, ".prometheus.TimeSeries")]),
    ]:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, tname in fields:
            field = msg.field.add(name=fname, number=number, type=ftype,
                                  label=f.LABEL_REPEATED if tname else f.LABEL_OPTIONAL)
            if tname:
                field.type_name = tname
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    write_request = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("prometheus.WriteRequest"))

    def upb(data: bytes) -> int:
        req = write_request()
        req.ParseFromString(data)
        out: list[Any] = []
        for ts in req.timeseries:
            labels = {lab.name: lab.value for lab in ts.labels}
            name = labels.pop("__name__")
            for s in ts.samples:
                out.append({"name": name, "labels": labels, "ts": s.timestamp / 1000.0,
                            "value": s.value})
        return len(out)

    decoder = RemoteWriteDecoder()
    peers: list[tuple[str, Any]] = [
        ("hand-written (cached labels)", lambda d: decoder.decode(d).samples),
        ("hand-written (cold cache)", lambda d: RemoteWriteDecoder().decode(d).samples),
        ("protobuf upb runtime", upb),
    ]
    # Interleaved rounds, so that load from elsewhere on the machine hits every peer alike.
    spent = {label: 0.0 for label, _ in peers}
    counted = {label: 0 for label, _ in peers}
    for _ in range(rounds):
        for label, fn in peers:
            start = time.perf_counter()
            for body in raw:
                counted[label] += fn(body)
            spent[label] += time.perf_counter() - start
    return {label: counted[label] / spent[label] for label, _ in peers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    opts = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    rng = random.Random(1)
    rw_bodies = _remote_write_bodies(rng)
    print("decoder samples/s (same bodies, one core):")
    peers = _decoder_peers(rw_bodies)
    for label, rate in peers.items():
        print(f"  {label:32s} {rate:12,.0f}  ({rate / peers['protobuf upb runtime']:.2f}x)")

    with LocalBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sock_port = 18000 + random.Random().randint(0, 2000)
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(broker.bootstrap_servers, sock_port, str(workdir / "db"),
                                 f"bench{uuid.uuid4().hex[:6]}"), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{sock_port}"
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
        scenarios: list[tuple[str, str, list[bytes] | None, dict[str, str], int]] = [
            ("GET /healthz (framework ceiling)", "/healthz", None, {}, 0),
            (f"remote write, {SERIES_PER_REQUEST} samples/request", "/api/v1/write", rw_bodies,
             {**auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}, SERIES_PER_REQUEST),
            ("webhook, 1 alert/request", "/api/v1/alerts/alertmanager", _webhook_bodies(1, rng),
             {**auth, "Content-Type": "application/json"}, 1),
            ("webhook, 20 alerts/request", "/api/v1/alerts/alertmanager",
             _webhook_bodies(20, rng), {**auth, "Content-Type": "application/json"}, 20),
        ]
        print(f"\nwrk -t1 -c{opts.connections} -d{opts.duration}s, one API process:")
        print(f"  {'scenario':40s} {'req/s':>8s} {'items/s':>10s} {'p50 ms':>8s} "
              f"{'p99 ms':>8s} {'API CPU s/s':>11s}")
        for label, path, bodies, headers, items in scenarios:
            # warm-up (label cache, producer connections), then measure
            _wrk(url, path, bodies, headers, 2, opts.connections, workdir)
            cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
            result = _wrk(url, path, bodies, headers, opts.duration, opts.connections, workdir)
            cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0)
            item_rate = f"{result['rps'] * items:10,.0f}" if items else f"{'-':>10s}"
            print(f"  {label:40s} {result['rps']:8,.0f} {item_rate} "
                  f"{result['p50_ms']:8.2f} {result['p99_ms']:8.2f} {cpu:11.2f}")
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
