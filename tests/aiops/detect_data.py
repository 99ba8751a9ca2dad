"""Scrapes of a few services for the detect stage's restart tests: a gauge and a counter per
service every second, a spike on one service and a lasting shift on another."""

from __future__ import annotations

import numpy as np

from aiops.model import Alert
from aiops.wire.shapes import dumps

T0 = 1_790_000_000.0
SERVICES = ("cart", "pay", "ship")


def scrapes(seconds: int, *, spike_at: int, shift_at: int, seed: int = 5
            ) -> list[tuple[str, int, bytes]]:
    """``(service, event second, message)`` in event order, one message per service and
    second (as the remote_write receiver writes them)."""
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(SERVICES, 0.0)
    out: list[tuple[str, int, bytes]] = []
    for t in range(seconds):
        for s, service in enumerate(SERVICES):
            latency = 50.0 + 5 * s + rng.normal(0, 1.0)
            if service == "cart" and spike_at <= t < spike_at + 4:
                latency = 400.0
            rate = 100.0 * (1 + s)
            if service == "pay" and t >= shift_at:
                rate *= 3  # a lasting shift of the request rate
            totals[service] += rate * (1 + rng.normal(0, 0.02))
            labels = {"service": service, "instance": f"{service}-0"}
            out.append((service, t, dumps({"samples": [
                {"name": "latency_ms", "labels": labels, "ts": T0 + t, "value": latency},
                {"name": "requests_total", "labels": labels, "ts": T0 + t,
                 "value": totals[service]},
            ]})))
    return out


def alert_set(alerts: list[Alert]) -> set[tuple[str, str, float, float | None]]:
    """Distinct alert events (redeliveries after a restart are the same events)."""
    return {(a.fingerprint, a.status.value, a.starts_at, a.ends_at) for a in alerts}
