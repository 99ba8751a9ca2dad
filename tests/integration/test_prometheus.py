"""The real Prometheus remote-writes to the engine: a spike in a scraped exporter becomes an
anomaly alert and an incident; the same Prometheus scrapes the engine's own metrics.

Prometheus runs with ``docs/prometheus.yml`` (addresses and the scrape interval changed).
The exporter is a tiny HTTP server the test controls. The engine's default metric detector
scores nothing for a new series' first ``warmup + likelihood_warmup`` points (read from
:func:`detectors.default_metric_alerter`, 130 today), so the test scrapes every 250 ms to
get through the warm-up in about half a minute, then holds the spike for several scrapes.
Nothing in the engine is lowered: it runs its defaults.
"""

from __future__ import annotations

import inspect
import random
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from streams.broker import free_port
from tests.integration.conftest import (
    LiveEngine,
    Program,
    binary,
    load_yaml,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.broker]

SCRAPE_INTERVAL_S = 0.25


def warmup_points() -> int:
    """Points the default metric detector needs before it scores, plus a margin."""
    from detectors import default_metric_alerter

    params = inspect.signature(default_metric_alerter).parameters
    needed = sum(int(params[name].default) for name in ("warmup", "likelihood_warmup")
                 if name in params)
    return (needed or 30) + 12


class Exporter:
    """Serves ``demo_latency_ms`` around 50 ms; :meth:`spike` makes it jump to 500 ms."""

    def __init__(self) -> None:
        self.level = 50.0
        self.scrapes = 0
        self._rng = random.Random(7)
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                exporter.scrapes += 1
                value = exporter.level + exporter._rng.gauss(0.0, 1.0)
                body = ("# HELP demo_latency_ms Request latency.\n"
                        "# TYPE demo_latency_ms gauge\n"
                        f'demo_latency_ms{{route="/checkout"}} {value:.3f}\n').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def spike(self) -> None:
        self.level = 500.0


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    exp = Exporter()
    thread = threading.Thread(target=exp.server.serve_forever, daemon=True)
    thread.start()
    yield exp
    exp.server.shutdown()
    thread.join(5)


def _prometheus_config(tmp_path: Path, engine: LiveEngine, exporter: Exporter) -> Path:
    config = load_yaml("prometheus.yml")
    interval = f"{int(SCRAPE_INTERVAL_S * 1000)}ms"
    config["global"].update({"scrape_interval": interval, "evaluation_interval": "1s"})
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    engine_address = engine.url.removeprefix("http://")
    jobs["aiops"]["static_configs"][0]["targets"] = [engine_address]
    jobs["node"]["static_configs"][0]["targets"] = [exporter.address]
    jobs["node"]["static_configs"][0]["labels"]["service"] = "cart"
    remote = config["remote_write"][0]
    remote["url"] = engine.url + "/api/v1/write"
    assert remote["authorization"]["credentials"] == engine.token
    remote["queue_config"]["batch_send_deadline"] = interval
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _query(prom: Program, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(prom.url + "/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_prometheus_remote_write_spike_becomes_incident(
    tmp_path: Path, live_engine: LiveEngine, exporter: Exporter,
    start_program: Callable[[str, list[str], str], Program],
) -> None:
    exe = binary("prometheus")
    port = free_port()
    prom = start_program(exe, [
        f"--config.file={_prometheus_config(tmp_path, live_engine, exporter)}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=info",
    ], f"http://127.0.0.1:{port}")

    def received_points() -> int:
        found = _query(prom, 'count_over_time(demo_latency_ms{service="cart"}[5m])')
        return int(found[0]["value"][1]) if found else 0

    points = warmup_points()
    try:
        wait_for(lambda: received_points() >= points, points * SCRAPE_INTERVAL_S * 2 + 20,
                 f"{points} points for the detector's warm-up")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{prom.output()}") from None
    exporter.spike()

    store = live_engine.engine.store

    def spike_incident() -> Any:
        for incident in store.list_incidents():
            for alert in incident.alerts:
                if alert.labels.get("metric") == "demo_latency_ms":
                    return incident, alert
        return None

    try:
        incident, alert = wait_for(spike_incident, 30, "an incident for the spike")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{prom.output()}") from None
    assert alert.labels["alertname"] == "MetricAnomaly"
    assert alert.labels["service"] == "cart" and "cart" in incident.services
    assert float(alert.annotations["value"]) > 400

    # Prometheus scraped the engine's own metrics, including the remote write receiver's
    own = wait_for(lambda: _query(prom, 'aiops_receiver_items_total{receiver="remote_write"}'),
                   20, "the engine's own series in Prometheus")
    assert own[0]["metric"]["job"] == "aiops" and float(own[0]["value"][1]) > points
    assert _query(prom, 'aiops_stage_events_in_total{stage="detect"}')
    # ... and, by the write relabelling in docs/prometheus.yml, did not write them back
    assert all("aiops" not in i.services for i in store.list_incidents())
