"""The processes of one chaos run: ``aiops broker``, ``aiops api`` and ``aiops worker
detect|correlate|act`` (``replicas`` of each) on a fresh PostgreSQL schema, and a webhook
destination that counts deliveries per ``Idempotency-Key``. Workers can be killed and are
restarted; a worker that exits on its own is counted as a death."""

from __future__ import annotations

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

import httpx

POSTGRES = os.environ.get("AIOPS_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STAGES = ("detect", "correlate", "act")


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

    def wait_owned(self, timeout: float = 300.0) -> None:
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
