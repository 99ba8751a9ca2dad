"""A worker's readiness endpoint answers 503 while its runner owns no partition."""

from __future__ import annotations

from typing import Any

import httpx

from streams.health import HealthServer


def test_readyz_reports_a_worker_that_owns_nothing() -> None:
    status: dict[str, Any] = {"stage": "correlate", "partitions": [], "unassigned_s": 42.0}
    server = HealthServer(lambda: [status], host="127.0.0.1").start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        idle = httpx.get(f"{base}/readyz")
        assert idle.status_code == 503
        assert idle.json()["problems"] == {"correlate": "owns no partition (for 42.0 s)"}
        status["partitions"] = [("aiops.alerts", 0)]
        assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        server.stop()
