"""Chaos suite for the scale-out form: kills, poison and a soak, on the real broker and
PostgreSQL, with a local HTTP sink as the notification destination.

Run by hand (results in BENCHMARKS.md):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py kills --replicas 1 --kills 60
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py kills --replicas 2 --kills 60
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py poison
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py soak --minutes 30

Every run starts its own ``aiops broker``, ``aiops api`` and ``aiops worker detect|correlate|
act`` processes (``--replicas`` of each worker) on a fresh PostgreSQL schema, and a webhook
destination served by this process, which counts deliveries by ``Idempotency-Key``.

* ``kills``: the same stream of Alertmanager webhooks (incidents that open, escalate, resolve,
  reopen and resolve again; event times compressed) and metrics is played twice at the same
  pace: once uninterrupted, once while random workers are killed (80 % SIGKILL, 20 % SIGTERM)
  and restarted. Compared: alerts stored, incidents (by id: members and final status) and
  notification keys delivered (missing, extra, deliveries per key). Workers that exit on their
  own are counted as deaths.
* ``poison``: oversized, non-UTF-8, out-of-range, NUL, huge-label and malformed records on
  every input topic, and a 20,000-alert webhook; then counts worker deaths (must be 0), the
  dead letters, and checks that the 20,000-alert incident is served by the API and the feed.
* ``soak``: one incident that grows by webhooks of new alerts for ``--minutes``; samples each
  worker's RSS and the correlate group's lag; then checks lag back to 0 and the incident in
  the API and on the feed.

``tests/aiops/test_chaos.py`` runs small versions of ``kills`` and ``poison``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

POSTGRES = os.environ.get("AIOPS_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STAGES = ("detect", "correlate", "act")
T0 = time.time() - 40 * 86_400  # event times of the stream: compressed, in the past


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- notification sink


class Sink:
    """A webhook destination that answers 200 and counts deliveries per idempotency key."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with sink._lock:
                    sink.deliveries[self.headers.get("idempotency-key") or "?"] += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------- the processes of one run


@dataclass
class Cluster:
    """Broker, API and workers of one run, on a fresh PostgreSQL schema."""

    workdir: Path
    replicas: int = 1
    sink_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    health: dict[str, int] = field(default_factory=dict)
    deaths: int = 0
    kills: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.schema = f"chaos_{uuid.uuid4().hex[:10]}"
        self.api_port = free_port()
        self.broker_port = free_port()
        self.prefix = f"c{uuid.uuid4().hex[:6]}"
        self._killed: set[str] = set()
        self._lock = threading.Lock()

    @property
    def store_url(self) -> str:
        from aiops.storage import normalize_url

        url = normalize_url(POSTGRES).update_query_dict(
            {"options": f"-csearch_path={self.schema}"})
        return url.render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AIOPS_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{self.broker_port}",
            "AIOPS_KAFKA__GROUP_PREFIX": self.prefix,
            "AIOPS_STORE__URL": self.store_url,
            "AIOPS_API__PORT": str(self.api_port),
            "AIOPS_CORRELATION__WINDOW_S": "10",
            "AIOPS_CORRELATION__QUIET_PERIOD_S": "5",
            "AIOPS_CORRELATION__REOPEN_WINDOW_S": "60",
            "AIOPS_CORRELATION__CONFIRM_AFTER_S": "0",
            "AIOPS_LOG_LEVEL": "WARNING",
            "AIOPS_NOTIFY__RETRY_BASE_S": "0.2",
            "AIOPS_NOTIFY__LEASE_S": "3",
        })
        for topic in ("metrics", "logs", "alerts", "incidents", "actions", "dlq", "topology"):
            env[f"AIOPS_TOPICS__{topic.upper()}"] = f"{self.prefix}.{topic}"
        if self.sink_url:
            env["AIOPS_NOTIFY__WEBHOOKS"] = json.dumps(
                [{"name": "sink", "url": self.sink_url, "rate_per_s": 500}])
        env.update(self.extra_env)
        return env

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "aiops", *args],
                                            env=self.env(), stdout=log, stderr=log)

    def start(self) -> None:
        import sqlalchemy as sa

        from aiops.storage import normalize_url
        from aiops.storage.migrate import upgrade

        admin = sa.create_engine(normalize_url(POSTGRES))
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        upgrade(self.store_url)
        self._spawn("broker", ["broker", "--port", str(self.broker_port)])
        wait_port(self.broker_port)
        self._spawn("api", ["api"])
        wait_port(self.api_port, timeout=60)
        for stage in STAGES:
            for r in range(self.replicas):
                name = f"{stage}-{r}"
                self.health[name] = free_port()
                self.start_worker(name)
        self.wait_owned()

    def start_worker(self, name: str) -> None:
        stage = name.split("-")[0]
        self._spawn(name, ["worker", stage, "--health-port", str(self.health[name])])

    def workers(self) -> list[str]:
        return [n for n in self.procs if n.split("-")[0] in STAGES]

    def owned(self, name: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.health[name]}/readyz",
                             timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_owned(self, timeout: float = 120.0) -> None:
        """Until each stage has a worker that owns its partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(any(self.owned(f"{s}-{r}") for r in range(self.replicas)) for s in STAGES):
                return
            time.sleep(0.5)
        raise RuntimeError("workers did not get their partitions")

    def kill(self, rng: random.Random) -> str:
        name = rng.choice(self.workers())
        sig = signal.SIGKILL if rng.random() < 0.8 else signal.SIGTERM
        with self._lock:
            self._killed.add(name)
            proc = self.procs[name]
            proc.send_signal(sig)
        self.kills[sig.name] += 1
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        time.sleep(rng.uniform(0.2, 2.0))
        with self._lock:
            self.start_worker(name)
            self._killed.discard(name)
        return name

    def reap(self) -> None:
        """Count and restart workers that exited without being killed."""
        with self._lock:
            for name in self.workers():
                if name not in self._killed and self.procs[name].poll() is not None:
                    self.deaths += 1
                    print(f"  worker {name} died (exit {self.procs[name].returncode})",
                          file=sys.stderr)
                    self.start_worker(name)

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for name in self.workers():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{self.procs[name].pid}/status").read_text()
                kb = next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS"))
                out[name] = kb / 1024
        return out

    def stop(self) -> None:
        import sqlalchemy as sa

        from aiops.storage import normalize_url

        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    # the broker stops its Tansu child on SIGTERM but may not exit itself
                    proc.wait(3 if name == "broker" else 15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        admin = sa.create_engine(normalize_url(POSTGRES))
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def cluster(replicas: int = 1, sink: Sink | None = None,
            extra_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        run = Cluster(Path(tmp), replicas, sink.url if sink else "", extra_env or {})
        try:
            run.start()
            yield run
        finally:
            run.stop()
            if os.environ.get("CHAOS_KEEP_LOGS"):
                for log in Path(tmp).glob("*.log"):
                    (Path(os.environ["CHAOS_KEEP_LOGS"]) / log.name).write_bytes(
                        log.read_bytes())


# ---------------------------------------------------------------- input


def alert(name: str, service: str, starts: float, severity: str = "warning",
          ends: float | None = None) -> dict[str, Any]:
    from aiops.wire.timefmt import format_time

    return {
        "status": "resolved" if ends is not None else "firing",
        "labels": {"alertname": name, "service": service, "severity": severity},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": format_time(starts),
        "endsAt": format_time(ends) if ends is not None else "0001-01-01T00:00:00Z",
        "generatorURL": "",
    }


def webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "{}:{}",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "", "truncatedAlerts": 0, "alerts": alerts}


def scenario(incidents: int) -> list[dict[str, Any]]:
    """Webhooks in event-time order: incident k fires (escalating every third one),
    resolves, and every fourth reopens and resolves again. Incidents are 200 s of event time
    apart (the correlation window is 10 s), so each is one incident in any run."""
    out: list[dict[str, Any]] = []
    for k in range(incidents):
        t = T0 + 200 * k
        svc = [f"chaos{k}-a", f"chaos{k}-b"]
        first = [alert("ChaosLatency", svc[0], t), alert("ChaosErrors", svc[1], t + 1)]
        out.append(webhook(first))
        if k % 3 == 0:
            out.append(webhook([alert("ChaosDown", svc[1], t + 2, "critical")]))
        ended = [alert("ChaosLatency", svc[0], t, ends=t + 20),
                 alert("ChaosErrors", svc[1], t + 1, ends=t + 20)]
        if k % 3 == 0:
            ended.append(alert("ChaosDown", svc[1], t + 2, "critical", ends=t + 20))
        out.append(webhook(ended))
        if k % 4 == 0:
            out.append(webhook([alert("ChaosLatency", svc[0], t + 60)]))
            out.append(webhook([alert("ChaosLatency", svc[0], t + 60, ends=t + 80)]))
    return out


def post(api: httpx.Client, body: dict[str, Any]) -> None:
    """As Alertmanager: retry until 200 (a 503 while the broker is away)."""
    for _ in range(600):
        try:
            r = api.post("/api/v1/alerts/alertmanager", json=body)
            if r.status_code == 200:
                return
            if r.status_code < 500:
                raise RuntimeError(f"webhook refused: {r.status_code} {r.text[:200]}")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("webhook never accepted")


class Metrics:
    """A steady stream of metric samples straight onto the metrics topic (old event times,
    so any alert a detector raised from them groups with nothing of the scenario)."""

    def __init__(self, run: Cluster, series: int = 20) -> None:
        from streams.kafka import KafkaConfig
        from streams.producer import EventProducer

        self._producer = EventProducer(KafkaConfig(f"127.0.0.1:{run.broker_port}"))
        self._topic = run.topic("metrics")
        self._series = series
        self._ts = T0 - 20 * 86_400
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Metrics:
        self._thread.start()
        return self

    def _run(self) -> None:
        from streams.producer import Record

        while not self._stop.is_set():
            self._ts += 10
            body = {"series": [{"name": "cpu", "labels": {"service": f"m{i}"},
                                "ts": [self._ts], "values": [50.0 + (self._ts % 7)]}
                               for i in range(self._series)]}
            with contextlib.suppress(Exception):
                self._producer.publish([Record(self._topic, b"m", orjson.dumps(body))])
                self.sent += self._series
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# ---------------------------------------------------------------- outcome


def lag(run: Cluster, stage: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{run.broker_port}",
                         "group.id": f"{run.prefix}.{stage}", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=5).topics[topic]
        parts = [TopicPartition(topic, p) for p in meta.partitions]
        total = 0
        for tp in consumer.committed(parts, timeout=5):
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            total += max(0, high - (tp.offset if tp.offset >= 0 else low))
        return total
    finally:
        consumer.close()


def settle(run: Cluster, timeout: float = 180.0) -> float:
    """Wait until every group has consumed everything and the outbox is empty; seconds."""
    from aiops.storage import Store, create_engine

    store = Store(create_engine(run.store_url))
    started = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - started < timeout:
        run.reap()
        busy = (lag(run, "correlate", run.topic("alerts"))
                + lag(run, "act", run.topic("incidents"))
                + lag(run, "detect", run.topic("metrics"))
                + len(store.pending(now=time.time() + 1, limit=1)))
        active = [i for i in store.list_incidents(limit=10_000)
                  if i.status.value != "resolved" and _ours(i)]
        if busy == 0 and not active:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 8:
                break
        else:
            quiet_since = None
        time.sleep(1.0)
    store.engine.dispose()
    return time.monotonic() - started


def _ours(incident: Any) -> bool:
    return any(s.startswith("chaos") for s in incident.services)


def outcome(run: Cluster, sink: Sink) -> dict[str, Any]:
    import sqlalchemy as sa

    from aiops.storage import Store, create_engine

    store = Store(create_engine(run.store_url))
    incidents = {i.id: i for i in store.list_incidents(limit=100_000) if _ours(i)}
    with store.engine.connect() as conn:
        alerts = {row[0] for row in conn.execute(sa.text(
            "select fingerprint from alerts where service like 'chaos%'"))}
    full = {i: store.get_incident(i) for i in incidents}
    store.engine.dispose()
    return {
        "alerts": alerts,
        "incidents": {i: (inc.status.value, sorted(a.fingerprint for a in inc.alerts))
                      for i, inc in full.items()},
        "keys": {k: n for k, n in sink.deliveries.items()
                 if k.split(":")[0] in incidents},
    }


def compare(base: dict[str, Any], chaos: dict[str, Any]) -> dict[str, Any]:
    bi, ci = base["incidents"], chaos["incidents"]
    return {
        "alerts_expected": len(base["alerts"]),
        "alerts_lost": len(base["alerts"] - chaos["alerts"]),
        "incidents_expected": len(bi),
        "incidents_missing": len(bi.keys() - ci.keys()),
        "incidents_extra": len(ci.keys() - bi.keys()),
        "incidents_other_state": sum(1 for i in bi.keys() & ci.keys() if bi[i] != ci[i]),
        "notifications_expected": len(base["keys"]),
        "notifications_missing": len(base["keys"].keys() - chaos["keys"].keys()),
        "notifications_extra": len(chaos["keys"].keys() - base["keys"].keys()),
        "deliveries_repeated_same_key": sum(n - 1 for n in chaos["keys"].values()),
        "examples": {
            "missing_keys": sorted(base["keys"].keys() - chaos["keys"].keys())[:5],
            "extra_keys": sorted(chaos["keys"].keys() - base["keys"].keys())[:5],
            "other_state": [(i, bi[i][0], ci[i][0]) for i in sorted(bi.keys() & ci.keys())
                            if bi[i] != ci[i]][:5],
        },
    }


# ---------------------------------------------------------------- the runs


def play(run: Cluster, hooks: list[dict[str, Any]], pace: float) -> None:
    metrics = Metrics(run).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{run.api_port}", timeout=30) as api:
        for body in hooks:
            post(api, body)
            run.reap()
            time.sleep(pace)
    metrics.stop()


def kills(replicas: int, target: int, incidents: int, pace: float, seed: int = 7
          ) -> dict[str, Any]:
    """The stream uninterrupted, then under ``target`` kills; the comparison."""
    hooks = scenario(incidents)
    results = []
    for chaos in (False, True):
        sink = Sink()
        with cluster(replicas, sink) as run:
            stop = threading.Event()
            done = 0

            def killer(run: Cluster = run, stop: threading.Event = stop) -> None:
                nonlocal done
                rng = random.Random(seed)
                interval = len(hooks) * pace / (target + 2)
                while not stop.is_set() and done < target:
                    stop.wait(rng.uniform(0.5, 1.5) * interval)
                    if not stop.is_set():
                        run.kill(rng)
                        done += 1

            thread = threading.Thread(target=killer, daemon=True)
            if chaos:
                thread.start()
            started = time.monotonic()
            play(run, hooks, pace)
            while chaos and done < target:  # all kills happen while input flows or lags
                time.sleep(0.5)
            stop.set()
            if chaos:
                thread.join(60)
            settled = settle(run)
            results.append(outcome(run, sink))
            print(f"  {'chaos' if chaos else 'baseline'} run: {time.monotonic() - started:.0f}"
                  f" s, settled in {settled:.0f} s, kills {dict(run.kills)}, "
                  f"deaths {run.deaths}", file=sys.stderr)
            if chaos:
                kill_counts = dict(run.kills)
                deaths = run.deaths
        sink.close()
    report = compare(results[0], results[1])
    report.update({"replicas": replicas, "kills": sum(kill_counts.values()),
                   "sigkill": kill_counts.get("SIGKILL", 0),
                   "sigterm": kill_counts.get("SIGTERM", 0), "worker_deaths": deaths,
                   "webhooks": len(hooks)})
    return report


def poison_records(run: Cluster) -> list[tuple[str, bytes]]:
    big_text = b'{"labels": {"alertname": "' + b"x" * 950_000 + b'"}}'
    garbage = bytes(range(256)) * 3700
    alerts = [
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": 1e300},
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": -1e300},
        {"labels": {"alertname": "P", "service": "p\x00nul"}, "startsAt": T0},
        {"labels": {"alertname": "P", "service": "p", "big": "y" * 200_000}, "startsAt": T0},
        {"labels": {"alertname": "P" * 300, "service": "p" * 300}, "startsAt": T0},
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": "9999-12-31T23:59:59Z"},
    ]
    out: list[tuple[str, bytes]] = []
    for topic in ("metrics", "logs", "alerts", "incidents", "topology"):
        out += [(topic, big_text), (topic, garbage), (topic, b"\x00" * 10),
                (topic, b"[" * 10_000), (topic, b'{"ts": 1e300, "value": 1e308}')]
    out += [("alerts", orjson.dumps(a)) for a in alerts]
    out += [("metrics", orjson.dumps({"series": [{"name": "c", "labels": {"service": "p"},
                                                  "ts": [1e300, -1e300], "values": [1, 2]}]})),
            ("logs", orjson.dumps({"ts": 1e300, "service": "p", "message": "x\x00y"})),
            ("incidents", orjson.dumps({"schema": "aiops.incident/v1", "id": "x",
                                        "status": "open", "opened_at": 1e300,
                                        "updated_at": 1e300})),
            ("topology", orjson.dumps({"op": "add_edge", "source": 1e300}))]
    return [(run.topic(t), v) for t, v in out]


def _docs(records: list[tuple[bytes | None, bytes]]) -> list[dict[str, Any]]:
    """The JSON objects among ``records`` (the poison put on a topic is skipped)."""
    out = []
    for _, value in records:
        with contextlib.suppress(orjson.JSONDecodeError):
            doc = orjson.loads(value)
            if isinstance(doc, dict):
                out.append(doc)
    return out


def poison(big: int = 20_000, settle_s: float = 300.0) -> dict[str, Any]:
    from streams.kafka import KafkaConfig
    from streams.producer import EventProducer, Record
    from tests.support.kafka import read_topic

    sink = Sink()
    with cluster(1, sink) as run:
        kafka = KafkaConfig(f"127.0.0.1:{run.broker_port}")
        producer = EventProducer(kafka)
        records = poison_records(run)
        for topic, value in records:
            producer.publish([Record(topic, b"poison", value)])
        with httpx.Client(base_url=f"http://127.0.0.1:{run.api_port}", timeout=120) as api:
            huge = [alert(f"Storm{i}", "chaos-storm", T0 + i * 0.001) for i in range(big)]
            post(api, webhook(huge))
            time.sleep(5)
            settle(run, timeout=settle_s)
            run.reap()
            listed = api.get("/api/v1/incidents", params={"service": "chaos-storm"}).json()
            storm = listed["incidents"][0] if listed.get("incidents") else {}
            served = api.get(f"/api/v1/incidents/{storm.get('id')}").json() if storm else {}
        feed = _docs(read_topic(kafka, run.topic("incidents"), expect=10_000, timeout=15))
        ours = [d for d in feed if d.get("id") == storm.get("id")]
        dead = read_topic(kafka, run.topic("dlq"), expect=len(records), timeout=30)
        reasons = Counter(orjson.loads(v)["stage"] for _, v in dead)
        sizes = max(len(v) for _, v in dead) if dead else 0
        report = {
            "poison_records": len(records), "dead_letters": len(dead),
            "dead_letters_by_stage": dict(reasons), "largest_dead_letter": sizes,
            "worker_deaths": run.deaths,
            "storm_alerts_api": len(served.get("alerts", [])),
            "storm_feed_messages": len(ours),
            "storm_feed_counts": ours[-1].get("counts") if ours else None,
            "storm_feed_largest": max((len(orjson.dumps(d)) for d in ours), default=0),
        }
    sink.close()
    return report


def soak(minutes: float, batch: int = 20, pace: float = 1.5) -> dict[str, Any]:
    from streams.kafka import KafkaConfig
    from tests.support.kafka import read_topic

    sink = Sink()
    samples: list[dict[str, Any]] = []
    with cluster(1, sink) as run, httpx.Client(
            base_url=f"http://127.0.0.1:{run.api_port}", timeout=120) as api:
        metrics = Metrics(run).start()
        started = time.monotonic()
        n = 0
        last_sample = 0.0
        while time.monotonic() - started < minutes * 60:
            post(api, webhook([alert(f"Grow{n + i}", "chaos-soak", T0 + (n + i) * 0.0005)
                               for i in range(batch)]))
            n += batch
            run.reap()
            if time.monotonic() - last_sample >= 15:
                last_sample = time.monotonic()
                samples.append({"t": round(last_sample - started), "alerts_sent": n,
                                "rss_mb": {k: round(v) for k, v in run.rss_mb().items()},
                                "correlate_lag": lag(run, "correlate", run.topic("alerts"))})
                print(f"  {samples[-1]}", file=sys.stderr)
            time.sleep(pace)
        metrics.stop()
        load_stopped = time.monotonic()
        while lag(run, "correlate", run.topic("alerts")) > 0 and \
                time.monotonic() - load_stopped < 600:
            time.sleep(1)
        drained = time.monotonic() - load_stopped
        samples.append({"t": round(time.monotonic() - started), "alerts_sent": n,
                        "rss_mb": {k: round(v) for k, v in run.rss_mb().items()},
                        "correlate_lag": lag(run, "correlate", run.topic("alerts"))})
        listed = api.get("/api/v1/incidents", params={"service": "chaos-soak"}).json()
        ident = listed["incidents"][0]["id"]
        t = time.monotonic()
        served = api.get(f"/api/v1/incidents/{ident}")
        api_s = time.monotonic() - t
        feed = _docs(read_topic(KafkaConfig(f"127.0.0.1:{run.broker_port}"),
                                run.topic("incidents"), expect=100_000, timeout=20))
        ours = [d for d in feed if d.get("id") == ident]
        report = {
            "minutes": minutes, "alerts_sent": n, "lag_drained_s": round(drained, 1),
            "api_alerts": len(served.json()["alerts"]), "api_seconds": round(api_s, 2),
            "feed_messages": len(ours),
            "feed_last_counts": ours[-1].get("counts") if ours else None,
            "feed_largest_bytes": max((len(orjson.dumps(d)) for d in ours), default=0),
            "worker_deaths": run.deaths, "samples": samples,
        }
    sink.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kills")
    k.add_argument("--replicas", type=int, default=1)
    k.add_argument("--kills", type=int, default=60)
    k.add_argument("--incidents", type=int, default=40)
    k.add_argument("--pace", type=float, default=1.2, help="seconds between webhooks")
    sub.add_parser("poison")
    s = sub.add_parser("soak")
    s.add_argument("--minutes", type=float, default=30)
    s.add_argument("--batch", type=int, default=20, help="new alerts per webhook")
    s.add_argument("--pace", type=float, default=1.5, help="seconds between webhooks")
    args = parser.parse_args()
    if args.what == "kills":
        result = kills(args.replicas, args.kills, args.incidents, args.pace)
    elif args.what == "poison":
        result = poison()
    else:
        result = soak(args.minutes, args.batch, args.pace)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
