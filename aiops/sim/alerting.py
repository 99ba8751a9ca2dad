"""The simulated monitoring system: alert rules over the generated metrics, Alertmanager-style.

Rules are what a Prometheus setup would have: an online z-score of each series against its own
exponentially weighted mean and variance (anomalous points kept out of the baseline), firing
after ``for_steps`` consecutive breaches and resolving after ``clear_steps`` quiet ones;
``up == 0`` rules for pods, hosts and services; a change event per rollout. They know nothing
of the injected faults, so a strong noise spike alerts just like a fault does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiops.model import Alert, AlertStatus

METRIC_ALERTS = {"cpu": "HighCPUUsage", "memory": "HighMemoryUsage",
                 "latency_ms": "HighLatencyP99", "error_rate": "HighErrorRate"}
SD_FLOOR = {"cpu": 0.01, "memory": 0.005, "latency_ms": 0.0, "error_rate": 0.002}
ABS_MIN = {"cpu": 0.0, "memory": 0.0, "latency_ms": 0.0, "error_rate": 0.02}


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert from when it started firing to when it resolved (or the end)."""

    labels: dict[str, str]
    start: float
    end: float | None
    score: float
    summary: str
    fire_ts: float  # when the rule first sent it (start + for duration)


def metric_episodes(name: str, services: list[str], values: np.ndarray, times: np.ndarray,
                    down: np.ndarray, z_fire: float = 4.0, z_clear: float = 2.0,
                    for_steps: int = 2, clear_steps: int = 4, alpha: float = 0.03,
                    warmup: int = 20) -> list[Episode]:
    """Run the z-score rule over ``values`` (services x steps); ``down`` masks dead services."""
    n, t = values.shape
    if t <= warmup:
        return []
    mu = values[:, :warmup].mean(axis=1)
    var = values[:, :warmup].var(axis=1)
    rel = 0.02 if name == "latency_ms" else 0.0
    floor_abs = SD_FLOOR[name]
    firing = np.zeros(n, dtype=bool)
    above = np.zeros(n, dtype=int)
    below = np.zeros(n, dtype=int)
    start_i = np.zeros(n, dtype=int)
    score = np.zeros(n)
    out: list[Episode] = []
    alertname = METRIC_ALERTS[name]
    for i in range(warmup, t):
        x = values[:, i]
        alive = down[:, i] < 0.5
        sd = np.maximum(np.sqrt(var), np.maximum(floor_abs, rel * np.abs(mu)))
        z = (x - mu) / sd
        breach = (z > z_fire) & (x > ABS_MIN[name]) & alive
        above = np.where(breach, above + 1, 0)
        fire = ~firing & (above >= for_steps)
        if fire.any():
            for s in np.flatnonzero(fire):
                start_i[s] = i - for_steps + 1
                score[s] = min(float(z[s]), 50.0)
            firing |= fire
        quiet = firing & ((z < z_clear) | ~alive)
        below = np.where(quiet, below + 1, 0)
        done = firing & (below >= clear_steps)
        for s in np.flatnonzero(done):
            out.append(_episode(alertname, services[s], name, times, start_i[s], i, score[s],
                                for_steps, mu[s], values[s, start_i[s] + for_steps - 1]))
        firing &= ~done
        learn = ~firing & (z < z_fire) & alive
        d = x - mu
        mu = np.where(learn, mu + alpha * d, mu)
        var = np.where(learn, (1 - alpha) * (var + alpha * d * d), var)
    for s in np.flatnonzero(firing):
        out.append(_episode(alertname, services[s], name, times, start_i[s], None, score[s],
                            for_steps, mu[s], values[s, start_i[s] + for_steps - 1]))
    return out


def _episode(alertname: str, service: str, metric: str, times: np.ndarray, start: int,
             end: int | None, score: float, for_steps: int, baseline: float,
             value: float) -> Episode:
    sev = "critical" if score >= 10 else "warning"
    unit = " ms" if metric == "latency_ms" else ""
    summary = (f"{metric} {value:.3g}{unit} is {score:.1f} sigma above its recent "
               f"baseline {baseline:.3g}{unit}")
    return Episode(labels={"alertname": alertname, "service": service, "severity": sev,
                           "metric": metric},
                   start=float(times[start]), end=None if end is None else float(times[end]),
                   score=round(float(score), 2), summary=summary,
                   fire_ts=float(times[min(start + for_steps - 1, len(times) - 1)]))


def down_episodes(up: dict[str, np.ndarray], times: np.ndarray, labels_of: dict[str, dict[str,
                  str]], alertname: str, summary: str, for_steps: int = 1) -> list[Episode]:
    """``up == 0`` for ``for_steps`` steps: one episode per down stretch."""
    out: list[Episode] = []
    for name in sorted(up):
        series = up[name]
        down = series < 0.5
        i = 0
        t = len(series)
        while i < t:
            if not down[i]:
                i += 1
                continue
            j = i
            while j < t and down[j]:
                j += 1
            if j - i >= for_steps:
                out.append(Episode(labels={"alertname": alertname, "severity": "critical",
                                           **labels_of[name]},
                                   start=float(times[i]),
                                   end=float(times[j]) if j < t else None, score=10.0,
                                   summary=summary.format(name=name),
                                   fire_ts=float(times[min(i + for_steps - 1, t - 1)])))
            i = j
    return out


def to_alerts(episodes: list[Episode], repeat_interval: float, horizon: float,
              generator: str = "http://prometheus:9090/graph") -> list[tuple[float, Alert]]:
    """Alertmanager's notifications for each episode: first firing, repeats, the resolution."""
    out: list[tuple[float, Alert]] = []
    for ep in episodes:
        ann = {"score": f"{ep.score:g}", "summary": ep.summary}
        firing = Alert(labels=ep.labels, annotations=ann, starts_at=ep.start,
                       generator_url=generator)
        ts = ep.fire_ts
        stop = ep.end if ep.end is not None else horizon
        while ts <= stop:
            out.append((ts, firing))
            ts += repeat_interval
        if ep.end is not None:
            out.append((ep.end, Alert(labels=ep.labels, annotations=ann, starts_at=ep.start,
                                      ends_at=ep.end, status=AlertStatus.RESOLVED,
                                      generator_url=generator)))
    out.sort(key=lambda pair: (pair[0], pair[1].fingerprint, pair[1].status))
    return out
