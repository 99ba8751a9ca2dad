"""The engine as a real HTTP server, and the real Prometheus and Alertmanager beside it.

The engine is started from ``docs/aiops.yaml`` and the programs from ``docs/prometheus.yml``
and ``docs/alertmanager.yml``, the files users copy; the tests change only addresses,
topic names and timings, so a green run says those files work.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aiops.app import Engine, Workers
from aiops.settings import Settings
from streams.topics import Topics
from tests.support.live import isolated, running
from tests.support.polling import eventually

DOCS = Path(__file__).resolve().parents[2] / "docs"


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
    settings = isolated(Settings.load(DOCS / "aiops.yaml"), tmp_path, topics, broker)
    settings.correlation.quiet_period_s = 2.0  # resolve within the test's patience
    with running(settings) as (engine, workers, url):
        yield LiveEngine(engine, workers, url, settings.api.bearer_token)


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
