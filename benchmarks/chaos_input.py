"""What a chaos run plays: Alertmanager webhooks of a scenario of incidents (open, escalate,
resolve, reopen, resolve again) posted as Alertmanager does, and a steady metric stream."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx
import orjson
from chaos_cluster import Cluster

T0 = time.time() - 40 * 86_400  # event times of the stream: compressed, in the past


def alert(name: str, service: str, starts: float, severity: str = "warning",
          ends: float | None = None) -> dict[str, Any]:
    from aiops.wire.timefmt import format_time

    return {
        "status": "resolved" if ends is not None else "firing",
        "labels": {"alertname": name, "service": service, "severity": severity},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": format_time(starts),
        "endsAt": format_time(ends) if ends is not None else "0001-01-01T00:00:00Z",
        "generatorURL": "",
    }


def webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "{}:{}",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "", "truncatedAlerts": 0, "alerts": alerts}


def scenario(incidents: int) -> list[dict[str, Any]]:
    """Webhooks in event-time order: incident k fires (escalating every third one),
    resolves, and every fourth reopens and resolves again. Incidents are 200 s of event time
    apart (the correlation window is 10 s), so each is one incident in any run."""
    out: list[dict[str, Any]] = []
    for k in range(incidents):
        t = T0 + 200 * k
        svc = [f"chaos{k}-a", f"chaos{k}-b"]
        first = [alert("ChaosLatency", svc[0], t), alert("ChaosErrors", svc[1], t + 1)]
        out.append(webhook(first))
        if k % 3 == 0:
            out.append(webhook([alert("ChaosDown", svc[1], t + 2, "critical")]))
        ended = [alert("ChaosLatency", svc[0], t, ends=t + 20),
                 alert("ChaosErrors", svc[1], t + 1, ends=t + 20)]
        if k % 3 == 0:
            ended.append(alert("ChaosDown", svc[1], t + 2, "critical", ends=t + 20))
        out.append(webhook(ended))
        if k % 4 == 0:
            out.append(webhook([alert("ChaosLatency", svc[0], t + 60)]))
            out.append(webhook([alert("ChaosLatency", svc[0], t + 60, ends=t + 80)]))
    return out


def post(api: httpx.Client, body: dict[str, Any]) -> None:
    """As Alertmanager: retry until 200 (a 503 while the broker is away)."""
    for _ in range(600):
        try:
            r = api.post("/api/v1/alerts/alertmanager", json=body)
            if r.status_code == 200:
                return
            if r.status_code < 500:
                raise RuntimeError(f"webhook refused: {r.status_code} {r.text[:200]}")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("webhook never accepted")


class Metrics:
    """A steady stream of metric samples straight onto the metrics topic (old event times,
    so any alert a detector raised from them groups with nothing of the scenario)."""

    def __init__(self, run: Cluster, series: int = 20) -> None:
        from streams.kafka import KafkaConfig
        from streams.producer import EventProducer

        self._producer = EventProducer(KafkaConfig(f"127.0.0.1:{run.broker_port}"))
        self._topic = run.topic("metrics")
        self._series = series
        self._ts = T0 - 20 * 86_400
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Metrics:
        self._thread.start()
        return self

    def _run(self) -> None:
        from streams.producer import Record

        while not self._stop.is_set():
            self._ts += 10
            body = {"series": [{"name": "cpu", "labels": {"service": f"m{i}"},
                                "ts": [self._ts], "values": [50.0 + (self._ts % 7)]}
                               for i in range(self._series)]}
            with contextlib.suppress(Exception):
                self._producer.publish([Record(self._topic, b"m", orjson.dumps(body))])
                self.sent += self._series
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
