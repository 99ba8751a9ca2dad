"""Local processes under a small supervisor: restart and scale for the demo and bare metal.

A service is a command line run as N instances; ``restart`` replaces ``batch`` instances at
a time (never all at once unless asked), ``scale`` starts or stops instances. Dry run checks
the service exists and reports what would happen.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediation.executors.base import ActionRequest, ExecutionResult, ExecutorError, scaled


@dataclass
class ProcessSpec:
    command: Sequence[str]
    env: Mapping[str, str] | None = None
    instances: list[subprocess.Popen[bytes]] = field(default_factory=list)


class ProcessSupervisor:
    def __init__(self, specs: Mapping[str, Sequence[str]], *, stop_timeout: float = 5.0) -> None:
        self._services = {name: ProcessSpec(list(cmd)) for name, cmd in specs.items()}
        self._stop_timeout = stop_timeout
        self._lock = threading.Lock()

    def _spec(self, name: str) -> ProcessSpec:
        try:
            return self._services[name]
        except KeyError:
            raise ExecutorError("process", name, "no such supervised service") from None

    def pids(self, name: str) -> list[int]:
        spec = self._spec(name)
        return [p.pid for p in spec.instances if p.poll() is None]

    def _start_one(self, spec: ProcessSpec) -> None:
        spec.instances.append(subprocess.Popen(list(spec.command), stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.terminate()
        try:
            proc.wait(self._stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def scale(self, name: str, count: int) -> None:
        with self._lock:
            spec = self._spec(name)
            spec.instances = [p for p in spec.instances if p.poll() is None]
            while len(spec.instances) < count:
                self._start_one(spec)
            while len(spec.instances) > count:
                self._stop(spec.instances.pop())

    def restart(self, name: str, batch: int) -> int:
        """Replace every instance, ``batch`` at a time; returns how many were replaced."""
        with self._lock:
            spec = self._spec(name)
            old = [p for p in spec.instances if p.poll() is None]
            spec.instances = []
            step = max(batch, 1)
            for i in range(0, len(old), step):
                for proc in old[i:i + step]:
                    self._stop(proc)
                    self._start_one(spec)
            if not old:
                self._start_one(spec)
            return max(len(old), 1)

    def ensure_running(self) -> None:
        """Start one instance of every service that has none (the supervisor owns them)."""
        for name in self._services:
            if not self.pids(name):
                self.scale(name, 1)

    def stop_all(self) -> None:
        for name in self._services:
            self.scale(name, 0)


class ProcessExecutor:
    def __init__(self, supervisor: ProcessSupervisor) -> None:
        self._supervisor = supervisor

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        return len(self._supervisor.pids(target))

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        current = len(self._supervisor.pids(request.target))  # raises for unknown services
        if request.kind in ("process_restart", "restart"):
            batch = int(request.params.get("batch", 1))
            if dry_run:
                return ExecutionResult(f"would restart {current} instance(s) of "
                                       f"{request.target}, {batch} at a time")
            replaced = self._supervisor.restart(request.target, batch)
            return ExecutionResult(f"restarted {replaced} instance(s) of {request.target}",
                                   {"replaced": replaced})
        if request.kind in ("process_scale", "scale"):
            wanted = scaled(current, request.params)
            if not dry_run:
                self._supervisor.scale(request.target, wanted)
            verb = "would scale" if dry_run else "scaled"
            return ExecutionResult(f"{verb} {request.target} {current} -> {wanted}",
                                   {"from": current, "to": wanted})
        raise ExecutorError(request.kind, request.target, "not a process action")
