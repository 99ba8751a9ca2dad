"""Alert storms for benchmarks: many concurrent faults on one large simulated system.

Several scenarios share one topology (``topology_seed``); their notifications are shifted so
that the faults overlap within a few minutes, as in a real storm, and merged in sending order.
"""

from __future__ import annotations

import numpy as np

from aiops.model import Alert
from aiops.sim.scenario import Scenario, generate


def _shift(alert: Alert, dt: float) -> Alert:
    return Alert(labels=alert.labels, annotations=alert.annotations,
                 starts_at=alert.starts_at + dt,
                 ends_at=None if alert.ends_at is None else alert.ends_at + dt,
                 generator_url=alert.generator_url, status=alert.status,
                 fingerprint=alert.fingerprint)


def build_storm(n_services: int = 2000, n_alerts: int = 10_000, seed: int = 0,
                faults_per_scenario: int = 10, spread: float = 300.0,
                duration: float = 1800.0) -> tuple[Scenario, list[tuple[float, Alert]]]:
    """Return the first scenario (for its graph) and ``n_alerts`` merged notifications."""
    rng = np.random.default_rng(seed)
    first: Scenario | None = None
    events: list[tuple[float, Alert]] = []
    anchor = 0.0
    k = 0
    while len(events) < n_alerts:
        sc = generate(n_services, "random", seed=seed * 1000 + k, duration=duration,
                      n_faults=faults_per_scenario, logs=False, topology_seed=seed)
        if first is None:
            first = sc
            anchor = sc.truth.start
        dt = anchor - sc.truth.start + float(rng.uniform(-spread / 2, spread / 2))
        events += [(ts + dt, _shift(a, dt)) for ts, a in sc.alert_events]
        k += 1
    events.sort(key=lambda pair: (pair[0], pair[1].fingerprint, pair[1].status))
    assert first is not None
    return first, events[:n_alerts]
