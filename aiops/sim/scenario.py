"""One simulated incident scenario: topology, workload, injected fault(s), alerts, truth.

>>> sc = generate(n_services=10, fault="cpu", seed=1, duration=1800)
>>> sc.truth.kind, sc.truth.start >= sc.start + 0.6 * 1800
('cpu', True)
>>> sc.truth.root in sc.graph
True
>>> generate(n_services=10, fault="cpu", seed=1, duration=1800).alerts == sc.alerts
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np

from aiops.model import Alert, LogRecord, MetricSample
from aiops.sim.alerting import Episode, down_episodes, metric_episodes, to_alerts
from aiops.sim.faults import FAULT_KINDS, InjectedFault, inject
from aiops.sim.logs import generate_logs
from aiops.sim.topogen import SimTopology, generate_topology
from topology.graph import ServiceGraph

METRICS = ("cpu", "memory", "latency_ms", "error_rate")
DAY = 86400.0
EPOCH = datetime(2026, 11, 23, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class FaultTruth:
    id: str
    kind: str
    root: str
    start: float


@dataclass(frozen=True)
class GroundTruth:
    """What really happened. ``causes`` maps an alert key ``fingerprint@startsAt`` to the
    id of the fault that produced it, or ``"noise"``."""

    root: str
    kind: str
    start: float
    faults: tuple[FaultTruth, ...]
    causes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "kind": self.kind, "start": self.start,
                "faults": [{"id": f.id, "kind": f.kind, "root": f.root, "start": f.start}
                           for f in self.faults],
                "causes": dict(self.causes)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GroundTruth:
        faults = tuple(FaultTruth(str(f["id"]), str(f["kind"]), str(f["root"]),
                                  float(f["start"])) for f in raw.get("faults", []))
        if not faults:
            faults = (FaultTruth("f0", str(raw["kind"]), str(raw["root"]),
                                 float(raw["start"])),)
        return cls(root=str(raw.get("root", faults[0].root)),
                   kind=str(raw.get("kind", faults[0].kind)),
                   start=float(raw.get("start", faults[0].start)), faults=faults,
                   causes={str(k): str(v) for k, v in (raw.get("causes") or {}).items()})


def alert_key(alert: Alert) -> str:
    """Identity of one alert episode: fingerprint plus start."""
    return f"{alert.fingerprint}@{alert.starts_at:.3f}"


@dataclass
class Scenario:
    """A generated scenario. ``alert_events`` pairs each notification with the time it is
    sent (first firing, Alertmanager repeats, resolution), in sending order."""

    seed: int
    start: float
    step: float
    times: np.ndarray
    sim: SimTopology
    series: dict[str, np.ndarray]
    alert_events: list[tuple[float, Alert]]
    logs: list[LogRecord]
    truth: GroundTruth
    faults: list[InjectedFault]

    @property
    def topology(self) -> dict[str, Any]:
        return self.sim.document

    @property
    def graph(self) -> ServiceGraph:
        return self.sim.graph

    @property
    def services(self) -> list[str]:
        return self.sim.services

    @property
    def alerts(self) -> list[Alert]:
        return [a for _, a in self.alert_events]

    @cached_property
    def metrics(self) -> list[MetricSample]:
        """Every sample, time-major (all series at t0, then t1...), labels ``service``."""
        out: list[MetricSample] = []
        names = self.services
        labels = [{"service": s, "namespace": "prod"} for s in names]
        for i, ts in enumerate(self.times.tolist()):
            for metric in METRICS:
                col = self.series[metric][:, i].tolist()
                for s in range(len(names)):
                    out.append(MetricSample(metric, labels[s], ts, round(col[s], 6)))
        return out


def _season(times: np.ndarray, amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * ((times[None, :] % DAY) / DAY) - phase[:, None]
    return 1.0 + amp[:, None] * np.sin(angle)


def generate(n_services: int = 10, fault: str = "cpu", seed: int = 0, duration: float = 3600,
             step: float = 15, n_faults: int = 1, noise_rate: float = 0.1,
             deploys_per_day: float = 2.0, logs: bool = True,
             repeat_interval: float = 300.0, topology_seed: int | None = None) -> Scenario:
    """Generate a scenario; ``fault`` is one of :data:`FAULT_KINDS` or ``"random"``.

    ``noise_rate`` is metric spikes per service-hour (false alarms the rules may fire on),
    ``deploys_per_day`` is harmless background rollouts per service and day.
    ``topology_seed`` keeps the same system across scenarios with different ``seed``.
    """
    rng = np.random.default_rng(seed)
    if topology_seed is None:
        topo = generate_topology(n_services, rng)
    else:  # several scenarios on one system
        topo = generate_topology(n_services, np.random.default_rng(topology_seed))
    names = topo.services
    n = len(names)
    start = EPOCH + float(rng.integers(0, 24)) * 3600.0
    times = start + np.arange(0.0, float(duration), float(step))
    t = len(times)
    end = float(times[-1])
    # steady workload with daily seasonality and noise
    cpu_b = rng.uniform(0.15, 0.5, n)
    mem_b = rng.uniform(0.3, 0.6, n)
    lat_b = np.exp(rng.normal(3.0, 0.6, n))
    err_b = rng.uniform(0.001, 0.01, n)
    season = _season(times, rng.uniform(0.15, 0.35, n), rng.uniform(-0.5, 0.5, n))
    cpu = cpu_b[:, None] * season + rng.normal(0, 0.015, (n, t))
    mem = mem_b[:, None] + np.cumsum(rng.normal(0, 0.0008, (n, t)), axis=1) + \
        rng.normal(0, 0.004, (n, t))
    lat = lat_b[:, None] * (1 + 0.3 * (season - 1)) * np.exp(rng.normal(0, 0.06, (n, t)))
    err = np.clip(err_b[:, None] + rng.normal(0, 0.0015, (n, t)), 0, 1)
    # faults
    kinds = [str(rng.choice(FAULT_KINDS)) if fault == "random" else fault
             for _ in range(n_faults)]
    injected: list[InjectedFault] = []
    used: set[str] = set()
    for f, kind in enumerate(kinds):
        f_start = float(times[int(t * float(rng.uniform(0.62, 0.7)))])
        root = _pick_root(kind, topo, rng, used)
        used |= {root} | topo.graph.within_hops(root, 3)
        injected.append(inject(f"f{f}", kind, root, f_start, times, topo,
                               dict(zip(names, cpu_b.tolist(), strict=True)),
                               dict(zip(names, mem_b.tolist(), strict=True)), rng, end))
    index = {s: i for i, s in enumerate(names)}
    down = np.zeros((n, t))
    for fi in injected:
        for svc, eff in fi.effects.items():
            i = index[svc]
            cpu[i] += eff.cpu_add
            mem[i] += eff.mem_add
            lat[i] *= eff.lat_mul
            err[i] += eff.err_add
            down[i] = np.maximum(down[i], eff.down)
    cpu = np.where(down > 0.5, 0.01, cpu)
    mem = np.where(down > 0.5, 0.02, mem)
    # false alarms: short spikes in random series
    n_spikes = int(rng.poisson(noise_rate * n * duration / 3600.0))
    arrays = {"cpu": cpu, "memory": mem, "latency_ms": lat, "error_rate": err}
    for _ in range(n_spikes):
        metric = METRICS[int(rng.integers(0, 4))]
        s, i = int(rng.integers(0, n)), int(rng.integers(0, t))
        width = int(rng.integers(1, 4))
        arr = arrays[metric]
        bump = {"cpu": 0.15, "memory": 0.05, "latency_ms": float(lat_b[s]) * 0.8,
                "error_rate": 0.05}[metric] * float(rng.uniform(0.8, 2.0))
        arr[s, i:i + width] += bump
    cpu = np.clip(cpu, 0, 1)
    mem = np.clip(mem, 0, 1)
    err = np.clip(err, 0, 1)
    arrays = {"cpu": cpu, "memory": mem, "latency_ms": lat, "error_rate": err}
    episodes = _episodes(arrays, down, names, times, topo, injected)
    episodes += _deploys(rng, topo, injected, start, end, duration, deploys_per_day)
    causes = _attribute(episodes, injected, index, times, step)
    events = to_alerts(episodes, repeat_interval, end)
    log_records = generate_logs(topo, times, lat, err, injected, rng) if logs else []
    first = injected[0]
    truth = GroundTruth(root=first.root, kind=first.kind, start=first.start,
                        faults=tuple(FaultTruth(f.id, f.kind, f.root, f.start)
                                     for f in injected), causes=causes)
    return Scenario(seed=seed, start=start, step=float(step), times=times, sim=topo,
                    series=arrays, alert_events=events, logs=log_records, truth=truth,
                    faults=injected)


def _pick_root(kind: str, topo: SimTopology, rng: np.random.Generator, used: set[str]) -> str:
    if kind == "host":
        hosts = sorted(set(topo.hosts.values()) - used)
        return hosts[int(rng.integers(0, len(hosts)))] if hosts else sorted(topo.hosts.values())[0]
    pool = [s for s in topo.services if s not in used] or topo.services
    # a fault is more interesting (and more common) where something depends on the root
    with_callers = [s for s in pool if topo.graph.callers(s)]
    pool = with_callers or pool
    return pool[int(rng.integers(0, len(pool)))]


def _episodes(arrays: dict[str, np.ndarray], down: np.ndarray, names: list[str],
              times: np.ndarray, topo: SimTopology,
              injected: list[InjectedFault]) -> list[Episode]:
    out: list[Episode] = []
    for metric in METRICS:
        out += metric_episodes(metric, names, arrays[metric], times, down)
    t = len(times)
    pod_up = {p: np.ones(t) for p in topo.hosts}
    host_up = {h: np.ones(t) for h in set(topo.hosts.values())}
    for fi in injected:
        for pod, d in fi.pods_down.items():
            pod_up[pod] = np.minimum(pod_up[pod], 1 - d)
        for host, d in fi.hosts_down.items():
            host_up[host] = np.minimum(host_up[host], 1 - d)
    pod_labels = {p: {"service": p.rsplit("-", 1)[0], "pod": p, "host": h}
                  for p, h in topo.hosts.items()}
    out += down_episodes({p: u for p, u in pod_up.items() if u.min() < 0.5}, times, pod_labels,
                         "PodNotReady", "pod {name} is not ready")
    host_labels = {h: {"host": h, "instance": f"{h}:9100", "job": "node-exporter"}
                   for h in host_up}
    out += down_episodes({h: u for h, u in host_up.items() if u.min() < 0.5}, times,
                         host_labels, "HostDown", "host {name} is unreachable", for_steps=2)
    svc_up = {}
    for svc, pods in topo.pods.items():
        alive = np.max(np.stack([pod_up[p] for p in pods]), axis=0)
        if alive.min() < 0.5:
            svc_up[svc] = alive
    out += down_episodes(svc_up, times, {s: {"service": s} for s in svc_up}, "ServiceDown",
                         "no ready pod of {name}", for_steps=2)
    return out


def _deploys(rng: np.random.Generator, topo: SimTopology, injected: list[InjectedFault],
             start: float, end: float, duration: float, per_day: float) -> list[Episode]:
    out: list[Episode] = []
    n = len(topo.services)
    count = int(rng.poisson(per_day * n * duration / DAY))
    rollouts = [(topo.services[int(rng.integers(0, n))], float(rng.uniform(start, end)))
                for _ in range(count)]
    rollouts += [(f.root, f.start) for f in injected if f.kind == "deploy"]
    for svc, ts in rollouts:
        out.append(Episode(labels={"alertname": "DeploymentRolledOut", "service": svc,
                                   "severity": "info", "kind": "change"},
                           start=ts, end=min(end, ts + 600.0) if ts + 600.0 < end else None,
                           score=1.0, summary=f"new version of {svc} rolled out", fire_ts=ts))
    return out


def _attribute(episodes: list[Episode], injected: list[InjectedFault],
               index: dict[str, int], times: np.ndarray, step: float) -> dict[str, str]:
    causes: dict[str, str] = {}
    for ep in episodes:
        alert = Alert(labels=ep.labels, annotations={}, starts_at=ep.start)
        key = alert_key(alert)
        i = int(np.searchsorted(times, ep.start))
        best, best_v = "noise", 0.05
        for fi in injected:
            pod_down = "pod" in ep.labels and ep.labels["pod"] in fi.pods_down
            host_down = ep.labels.get("alertname") == "HostDown" and \
                ep.labels.get("host") in fi.hosts_down
            if pod_down or host_down:
                best, best_v = fi.id, 2.0
            elif ep.labels.get("alertname") == "DeploymentRolledOut":
                if fi.kind == "deploy" and fi.root == ep.labels["service"] and \
                        abs(fi.start - ep.start) < 1e-6:
                    best, best_v = fi.id, 2.0
            else:
                infl = fi.influence.get(ep.labels.get("service", ""))
                if infl is not None:
                    # influence when the alert began: a fault whose effect reached the
                    # service only later cannot have caused it
                    v = float(infl[min(i, len(infl) - 1)])
                    if v > best_v:
                        best, best_v = fi.id, v
        causes[key] = best
    return causes
