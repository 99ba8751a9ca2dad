"""Server time of the console's pages on a large store: 10,000 incidents, one of them with
10,000 member alerts, on SQLite (a file, as the embedded default) and optionally PostgreSQL.

    PYTHONPATH=. python benchmarks/console_pages.py [--pg postgresql+psycopg://...]

PostgreSQL is analyzed after the fill, as autovacuum would have done on a live database.
Each page is requested through the ASGI app in-process (no network), warmed once, then
timed ``--repeat`` times; the median and the worst are printed. The API's JSON for the same
incident is timed beside it, as the peer: the console should cost about what the API does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.console.deps import ConsoleDeps, TopologyView
from aiops.model import Alert, Incident, IncidentStatus, RootCause, TimelineEntry
from aiops.settings import ApiSettings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics

SERVICES = [f"svc-{i:03d}" for i in range(200)]


def incident(n: int, opened: float, alerts: int) -> Incident:
    members = tuple(
        Alert({"alertname": f"A{j % 7}", "service": SERVICES[(n + j) % len(SERVICES)],
               "instance": f"{n}-{j}", "severity": "critical" if j % 3 else "warning",
               "metric": "latency_ms"},
              {"summary": "slow", "value": str(100 + j % 50), "expected_low": "10",
               "expected_high": "60", "metric": "latency_ms"},
              opened + j * 0.5)
        for j in range(alerts))
    services = tuple(sorted({a.labels["service"] for a in members}))
    status = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED)[n % 3]
    return Incident(
        id=f"inc-{n:06d}", status=status, title=f"incident {n}", severity="critical",
        opened_at=opened, updated_at=opened + alerts, alerts=members, services=services,
        root_causes=tuple(RootCause(s, 1.0 / (k + 1), ("deviated first",))
                          for k, s in enumerate(services[:5])),
        timeline=(TimelineEntry(opened, "opened", IncidentStatus.OPEN),),
    )


def topology(path: Path) -> None:
    lines = ["services:"] + [f"  - {{name: {s}}}" for s in SERVICES] + ["edges:"]
    lines += [f"  - {{source: {SERVICES[i]}, target: {SERVICES[(i * 7 + 1) % 200]}}}"
              for i in range(200)]
    path.write_text("\n".join(lines) + "\n")


def fill(store: Store, count: int, big: int) -> None:
    now = time.time()
    started = time.perf_counter()
    store.save_incident(incident(0, now - 60, big))
    for n in range(1, count):
        store.save_incident(incident(n, now - 60 * n, 3))
    print(f"stored {count} incidents (one of {big} alerts) in "
          f"{time.perf_counter() - started:.1f}s")


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float, int]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples), len(response.content)


def run(url: str, label: str, count: int, big: int, repeat: int, work: Path) -> None:
    upgrade(url)
    store = Store(create_engine(url))
    fill(store, count, big)
    if store.engine.dialect.name == "postgresql":
        # a live database has planner statistics (autovacuum); a freshly filled one not yet
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    topo = work / "topology.yaml"
    topology(topo)
    app = create_api(ApiDeps(ApiSettings(), store, EventProducer(KafkaConfig("127.0.0.1:9")),
                             Topics(), Telemetry(CollectorRegistry())),
                     ConsoleDeps(TopologyView(str(topo), None)))
    client = TestClient(app)
    pages = [
        ("incident list, first page (50)", "/ui/incidents?window=all"),
        ("incident list, live fragment", "/ui/incidents/live?window=all"),
        ("incident list, filtered by service", "/ui/incidents?window=all&service=svc-007"),
        ("incident list, page 100", "/ui/incidents?window=all&page=100"),
        ("incident page, 3 alerts", "/ui/incidents/inc-000500"),
        (f"incident page, {big} alerts", "/ui/incidents/inc-000000"),
        (f"API JSON, {big}-alert incident (peer)", "/api/v1/incidents/inc-000000"),
        ("service graph overlay (JSON)", "/ui/graph/elements"),
    ]
    print(f"\n{label}: {count} incidents; median and worst of {repeat}")
    for name, path in pages:
        median, worst, size = timed(client, path, repeat)
        print(f"  {name:<44} {median * 1000:8.1f} ms  (worst {worst * 1000:7.1f} ms)"
              f"  {size / 1024:8.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--pg", default="", help="PostgreSQL URL to run against as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run(f"sqlite:///{work / 'bench.db'}", "SQLite", args.incidents, args.big,
            args.repeat, work)
        if args.pg:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            try:
                sep = "&" if "?" in args.pg else "?"
                run(f"{args.pg}{sep}options=-csearch_path%3D{schema}", "PostgreSQL",
                    args.incidents, args.big, args.repeat, work)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
