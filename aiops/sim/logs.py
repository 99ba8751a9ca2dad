"""Log lines for a simulated system: steady access logs, and the messages a fault leaves behind."""

from __future__ import annotations

import numpy as np

from aiops.model import LogRecord
from aiops.sim.faults import InjectedFault
from aiops.sim.topogen import SimTopology

ROOT_MESSAGES = {
    "cpu": ("WARN", "CPU throttling: container using {pct}% of its limit"),
    "memory": ("ERROR", "GC overhead limit exceeded, heap at {pct}%"),
    "latency": ("WARN", "slow request: GET /api/items took {ms} ms"),
    "error": ("ERROR", "unhandled exception in request handler: NullPointerException"),
    "crash": ("ERROR", "process exited with code 137, back-off restarting failed container"),
    "host": ("ERROR", "node heartbeat lost, marking pods NotReady"),
    "deploy": ("ERROR", "unhandled exception after rollout: KeyError 'feature_flags'"),
}
CALLER_MESSAGES = {
    "latency": ("WARN", "upstream request timeout calling {callee} after {ms} ms"),
    "error": ("ERROR", "call to {callee} failed: 503 Service Unavailable"),
}


def generate_logs(topo: SimTopology, times: np.ndarray, latency: np.ndarray,
                  errors: np.ndarray, faults: list[InjectedFault],
                  rng: np.random.Generator, rate: float = 0.2) -> list[LogRecord]:
    """About ``rate`` access lines per service per step, plus fault messages."""
    out: list[LogRecord] = []
    services = topo.services
    n, t = latency.shape
    draws = rng.random((n, t))
    for s, name in enumerate(services):
        callees = [c for c in topo.graph.callees(name) if topo.graph.edge_kind(name, c) == "calls"]
        for i in np.flatnonzero(draws[s] < rate):
            ts = float(times[i]) + float(draws[s, i]) * 10
            ms = int(latency[s, i])
            if errors[s, i] > 0.05 and draws[s, i] < rate * min(1.0, errors[s, i] * 4):
                callee = callees[int(i) % len(callees)] if callees else "backend"
                out.append(LogRecord(ts, name, "ERROR",
                                     f"call to {callee} failed: 503 Service Unavailable",
                                     {"service": name}))
            else:
                out.append(LogRecord(ts, name, "INFO", f"GET /api/v1/items 200 {ms}ms",
                                     {"service": name}))
    for fault in faults:
        level, template = ROOT_MESSAGES[fault.kind]
        name = fault.root
        if fault.kind == "deploy":
            out.append(LogRecord(fault.start, name, "INFO", "rollout finished: image tag v2",
                                 {"service": name}))
        for i in np.flatnonzero(times >= fault.start)[::4]:
            out.append(LogRecord(float(times[i]) + 1.0, name if fault.kind != "host" else
                                 "kubelet", level,
                                 template.format(pct=95, ms=2000),
                                 {"service": name}))
        for caller, delay in sorted(fault.delays.items()):
            callee = next((c for c in topo.graph.callees(caller)
                           if c in fault.effects or c == fault.root), fault.root)
            kind = "latency" if fault.kind in ("cpu", "memory", "latency") else "error"
            lvl, tpl = CALLER_MESSAGES[kind]
            for i in np.flatnonzero(times >= fault.start + delay)[::8]:
                out.append(LogRecord(float(times[i]) + 2.0, caller, lvl,
                                     tpl.format(callee=callee, ms=3000), {"service": caller}))
    out.sort(key=lambda r: (r.ts, r.service))
    return out
