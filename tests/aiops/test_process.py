"""The engine as an operator runs it: real ``aiops run`` / ``aiops broker`` / ``aiops db``
subprocesses, real signals, configuration mistakes, JSON logs and their counters."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from aiops.app import STAGES
from streams.broker import free_port
from tests.support.polling import eventually

AIOPS = [sys.executable, "-m", "aiops"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    env.update({"AIOPS_DATA_DIR": str(tmp_path / "data"),
                "AIOPS_STORE__URL": f"sqlite:///{tmp_path / 'aiops.db'}", **extra})
    return env


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _run_engine(tmp_path: Path, started: list[subprocess.Popen[bytes]]
                ) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    port = free_port()
    out = tmp_path / "run.log"
    proc = subprocess.Popen([*AIOPS, "run"], env=_env(tmp_path, AIOPS_API__PORT=str(port)),
                            stdout=out.open("wb"), stderr=subprocess.STDOUT, cwd=tmp_path)
    started.append(proc)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, out.read_text()
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert eventually(ready, timeout=90), out.read_text()
    found = re.search(r"aiops: kafka (\S+);", out.read_text())
    assert found, out.read_text()
    return proc, base, found.group(1), out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly_with_its_broker(tmp_path: Path, started: list[subprocess.Popen[bytes]],
                                           sig: signal.Signals) -> None:
    proc, base, broker, out = _run_engine(tmp_path, started)
    assert _listening(broker)
    # every stage got its partitions: logged as JSON events and counted on /metrics
    assigned = f'aiops_events_total{{event="worker.assigned"}} {float(len(STAGES))}'
    assert eventually(lambda: assigned in httpx.get(base + "/metrics", timeout=5).text,
                      timeout=60)
    proc.send_signal(sig)
    assert proc.wait(60) == 0, out.read_text()
    assert not _listening(broker), "the embedded broker outlived the engine"
    text = out.read_text()
    assert "stopped (stages, API and broker)" in text
    events = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    assigned = [e for e in events if e.get("event") == "worker.assigned"]
    assert {e["stage"] for e in assigned} == set(STAGES)
    assert all({"ts", "level", "logger", "msg"} <= e.keys() for e in events)
    assert "Traceback" not in text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_broker_command_stops_on_signals(tmp_path: Path, started: list[subprocess.Popen[bytes]],
                                         sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen([*AIOPS, "broker", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started.append(proc)
    assert eventually(lambda: _listening(f"127.0.0.1:{port}"), timeout=30)
    time.sleep(0.5)
    proc.send_signal(sig)
    assert proc.wait(20) == 0
    assert not _listening(f"127.0.0.1:{port}")
    assert proc.stdout is not None and b"local broker stopped" in proc.stdout.read()


@pytest.mark.parametrize(("file_text", "env", "expected"), [
    ("api: {prot: 18081}\n", {}, "api.prot: unknown setting; api has "),
    ("api:\n  port: http\n", {}, "api.port: Input should be a valid integer"),
    ("notify:\n  slack: [{webhook_url: x, colour: red}]\n", {},
     "notify.slack[0].colour: unknown setting"),
    ("kafak: {bootstrap_servers: x}\n", {}, "kafak: unknown setting"),
    ("api: [\n", {}, "not valid YAML at line 2"),
    ("", {"AIOPS_API__PROT": "1"}, "AIOPS_API__PROT: api.prot: unknown setting"),
    ("", {"AIOPS_KAFAK__BOOTSTRAP_SERVERS": "x"}, "AIOPS_KAFAK__BOOTSTRAP_SERVERS: unknown "
                                                  "setting 'kafak'"),
    ("", {"AIOPS_API__PORT": "abc"}, "AIOPS_API__PORT: api.port: Input should be a valid "
                                     "integer"),
    ("", {"AIOPS_LOG_FORMAT": "xml"}, "log_format: Input should be 'json' or 'text'"),
])
def test_configuration_mistakes_are_one_line(tmp_path: Path, file_text: str,
                                             env: dict[str, str], expected: str) -> None:
    config = tmp_path / "aiops.yaml"
    config.write_text(file_text or "{}\n")
    done = subprocess.run([*AIOPS, "db", "upgrade", "--config", str(config)],
                          env=_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]


def test_api_and_worker_stop_cleanly_on_sigterm(tmp_path: Path,
                                                started: list[subprocess.Popen[bytes]]) -> None:
    broker_port, api_port, metrics_port = free_port(), free_port(), free_port()
    broker = subprocess.Popen([*AIOPS, "broker", "--port", str(broker_port)],
                              env=_env(tmp_path), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    started.append(broker)
    assert eventually(lambda: _listening(f"127.0.0.1:{broker_port}"), timeout=30)
    env = _env(tmp_path, AIOPS_KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{broker_port}",
               AIOPS_API__PORT=str(api_port), AIOPS_WORKER_METRICS_PORT=str(metrics_port),
               AIOPS_LOG_FORMAT="text")
    api = subprocess.Popen([*AIOPS, "api"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen([*AIOPS, "worker", "act"], env=env,
                              stdout=worker_log.open("wb"), stderr=subprocess.STDOUT)
    started += [api, worker]
    assert eventually(lambda: _listening(f"127.0.0.1:{api_port}"), timeout=60)
    # the worker serves its own counters, the assignment event among them
    assert eventually(lambda: _listening(f"127.0.0.1:{metrics_port}") and
                      'aiops_events_total{event="worker.assigned"}' in
                      httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text,
                      timeout=60), worker_log.read_text()
    for proc in (api, worker, broker):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    text = worker_log.read_text()
    assert "[worker.assigned]" in text and not text.lstrip().startswith("{")  # plain text
