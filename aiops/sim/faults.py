"""Fault injection: what a fault does to its root, and how it spreads to the callers.

Each fault kind changes the root's metrics in its own way (a memory leak ramps memory, a crash
takes the pods down, a bad deploy raises errors right after a rollout). Callers see symptoms
(latency or errors) after a per-edge delay and scaled by a per-edge attenuation, both drawn at
random, along the best path on the reversed call graph. Intensities are random too, so a
caller's symptom is sometimes *louder* than the root's own (e.g. latency adds up along a call
chain), which is what makes root-cause ranking non-trivial.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from aiops.sim.topogen import SimTopology

FAULT_KINDS = ("cpu", "memory", "latency", "error", "crash", "host", "deploy")
# what a caller of a faulty service experiences
CALLER_SYMPTOM = {"cpu": "latency", "memory": "latency", "latency": "latency", "error": "error",
                  "crash": "error", "host": "error", "deploy": "error"}


@dataclass(slots=True)
class Effect:
    """Additive/multiplicative changes to one service's metrics over the time grid."""

    cpu_add: np.ndarray
    mem_add: np.ndarray
    lat_mul: np.ndarray
    err_add: np.ndarray
    down: np.ndarray  # 1 where the service serves nothing


@dataclass(slots=True)
class InjectedFault:
    """One fault as injected: its root node, kind, start, and per-service influence."""

    id: str
    kind: str
    root: str
    start: float
    effects: dict[str, Effect] = field(default_factory=dict)
    influence: dict[str, np.ndarray] = field(default_factory=dict)  # service -> 0..1 per step
    pods_down: dict[str, np.ndarray] = field(default_factory=dict)
    hosts_down: dict[str, np.ndarray] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)


def _ramp(u: np.ndarray, seconds: float) -> np.ndarray:
    return np.clip(u / max(seconds, 1e-9), 0.0, 1.0) * (u >= 0)


def _empty(t: int) -> Effect:
    z = np.zeros(t)
    return Effect(z.copy(), z.copy(), np.ones(t), z.copy(), z.copy())


def _callers_paths(topo: SimTopology, root: str, rng: np.random.Generator,
                   max_depth: int = 4, min_gain: float = 0.15) -> dict[str, tuple[float, float]]:
    """Best (gain, delay) from ``root`` to each transitive caller via call edges."""
    g = topo.graph
    best: dict[str, tuple[float, float]] = {root: (1.0, 0.0)}
    att: dict[tuple[str, str], tuple[float, float]] = {}
    heap: list[tuple[float, float, str, int]] = [(-1.0, 0.0, root, 0)]
    while heap:
        neg_gain, delay, node, depth = heapq.heappop(heap)
        gain = -neg_gain
        if best.get(node, (0.0, 0.0))[0] > gain or depth >= max_depth:
            continue
        for caller in sorted(g.callers(node)):
            if g.edge_kind(caller, node) != "calls":
                continue
            key = (caller, node)
            if key not in att:
                att[key] = (float(rng.uniform(0.45, 1.05)), float(rng.uniform(8.0, 40.0)))
            a, d = att[key]
            ng = gain * a
            if ng < min_gain or best.get(caller, (0.0, 0.0))[0] >= ng:
                continue
            best[caller] = (ng, delay + d)
            heapq.heappush(heap, (-ng, delay + d, caller, depth + 1))
    return best


def inject(fault_id: str, kind: str, root: str, start: float, times: np.ndarray,
           topo: SimTopology, base_cpu: dict[str, float], base_mem: dict[str, float],
           rng: np.random.Generator, end: float) -> InjectedFault:
    """Compute the effects of a ``kind`` fault at ``root`` from ``start`` on."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
    t = len(times)
    u = times - start
    on = (u >= 0).astype(float)
    k = float(rng.uniform(0.6, 1.4))  # intensity
    fault = InjectedFault(fault_id, kind, root, start)
    root_services: dict[str, float] = {}  # service -> share of the fault it takes directly
    if kind == "host":
        hosts = topo.hosts
        down_pods = [p for p, h in hosts.items() if h == root]
        fault.hosts_down[root] = on.copy()
        for pod in down_pods:
            fault.pods_down[pod] = on.copy()
        for svc, pods in topo.pods.items():
            share = sum(1 for p in pods if p in fault.pods_down) / len(pods)
            if share > 0:
                root_services[svc] = share
    else:
        root_services[root] = 1.0
    for svc, share in root_services.items():
        eff = _empty(t)
        if kind == "cpu":
            eff.cpu_add = (0.97 - base_cpu[svc]) * _ramp(u, 45.0) * min(1.0, k)
            eff.lat_mul = 1.0 + 1.5 * k * _ramp(u, 60.0)
        elif kind == "memory":
            span = max(120.0, (end - start) * 0.8)
            eff.mem_add = (0.97 - base_mem[svc]) * _ramp(u, span)
            eff.lat_mul = 1.0 + 2.0 * k * np.clip(_ramp(u, span) * 2 - 1, 0, 1)
        elif kind == "latency":
            eff.lat_mul = 1.0 + 4.0 * k * _ramp(u, 30.0)
        elif kind == "error":
            eff.err_add = 0.25 * k * _ramp(u, 15.0)
            eff.lat_mul = 1.0 + 0.3 * _ramp(u, 15.0)
        elif kind == "crash":
            eff.down = on.copy()
            eff.err_add = on * 0.98
            for pod in topo.pods[svc]:
                fault.pods_down[pod] = on.copy()
        elif kind == "host":
            eff.err_add = 0.6 * share * k * on
            eff.cpu_add = 0.25 * share * on
            if share >= 1.0:
                eff.down = on.copy()
        elif kind == "deploy":
            eff.err_add = 0.15 * k * _ramp(u, 30.0)
            eff.lat_mul = 1.0 + 1.0 * k * _ramp(u, 30.0)
        fault.effects[svc] = eff
        fault.influence[svc] = on * share
        # callers
        symptom = CALLER_SYMPTOM[kind]
        for caller, (gain, delay) in _callers_paths(topo, svc, rng).items():
            if caller == svc or caller in root_services:
                continue
            g = gain * share * k
            uc = u - delay
            ramp = _ramp(uc, 30.0)
            if kind == "memory":
                span = max(120.0, (end - start) * 0.8)
                ramp = np.clip(_ramp(uc, span) * 2 - 1, 0, 1)
            ce = fault.effects.get(caller) or _empty(t)
            if symptom == "latency":
                mag = {"cpu": 1.5, "memory": 2.0, "latency": 4.0}[kind]
                ce.lat_mul = ce.lat_mul * (1.0 + mag * g * ramp)
            else:
                mag = {"error": 0.25, "crash": 0.5, "host": 0.6, "deploy": 0.15}[kind]
                ce.err_add = ce.err_add + mag * g * ramp
                if kind == "crash":
                    ce.lat_mul = ce.lat_mul * (1.0 + 1.0 * g * ramp)
            fault.effects[caller] = ce
            infl = fault.influence.get(caller, np.zeros(t))
            fault.influence[caller] = np.maximum(infl, g * (uc >= 0))
            fault.delays[caller] = min(fault.delays.get(caller, 1e18), delay)
    return fault
