"""The engine as a real HTTP server, and the real Prometheus and Alertmanager beside it.

The engine is started from ``docs/aiops.yaml`` and the programs from ``docs/prometheus.yml``
and ``docs/alertmanager.yml``, the files users copy; the tests change only addresses,
topic names and timings, so a green run says those files work.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from aiops.app import STAGES, Engine, Workers
from aiops.settings import Settings
from streams.topics import Topics
from tests.support.polling import eventually

DOCS = Path(__file__).resolve().parents[2] / "docs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def binary(name: str) -> str:
    """Path of a program from Debian's packages, or skip with the reason."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus "
                    f"prometheus-alertmanager prometheus-node-exporter); CI installs it")
    return found


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.25) -> Any:
    value = eventually(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
    return value


def load_yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCS / name).read_text())
    return loaded


@dataclass
class LiveEngine:
    engine: Engine
    workers: Workers
    url: str
    token: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)


@pytest.fixture
def live_engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[LiveEngine]:
    """Every stage and the API, on a free loopback port, configured from docs/aiops.yaml."""
    settings = Settings.load(DOCS / "aiops.yaml")
    settings.kafka.bootstrap_servers = broker
    settings.kafka.group_prefix = topics.metrics  # consumer groups unique to the test
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    settings.api.port = free_port()
    settings.correlation.quiet_period_s = 2.0  # resolve within the test's patience
    engine = Engine.build(settings, broker)
    engine.ensure_topics()
    workers = Workers([engine.runner(name) for name in STAGES])
    workers.start()
    server = uvicorn.Server(uvicorn.Config(engine.api(), host="127.0.0.1",
                                           port=settings.api.port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    try:
        assert workers.wait_ready(60), "stages did not join their consumer groups"
        wait_for(lambda: server.started, 20, "the API to listen")
        yield LiveEngine(engine, workers, f"http://127.0.0.1:{settings.api.port}",
                         settings.api.bearer_token)
    finally:
        server.should_exit = True
        thread.join(10)
        workers.stop()
    assert not workers.errors


@dataclass
class Program:
    """A real program on loopback, stopped (and its output shown on failure) by the test."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_program(tmp_path: Path) -> Iterator[Callable[[str, list[str], str], Program]]:
    started: list[Program] = []

    def start(name: str, args: list[str], url: str) -> Program:
        log = tmp_path / f"{Path(name).name}.log"
        handle = log.open("wb")
        process = subprocess.Popen([name, *args], stdout=handle, stderr=subprocess.STDOUT,
                                   cwd=tmp_path)
        program = Program(process, log, url)
        started.append(program)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}:\n"
                                     f"{program.output()}")
            try:
                return httpx.get(url + "/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, f"{name} to be ready")
        return program

    yield start
    for program in started:
        program.process.terminate()
        try:
            program.process.wait(10)
        except subprocess.TimeoutExpired:
            program.process.kill()
            program.process.wait(5)
