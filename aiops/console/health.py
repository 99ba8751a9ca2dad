"""The engine's health as the console shows it, read from the process's own metrics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry


@dataclass
class StageHealth:
    stage: str
    consumed: float = 0.0
    produced: float = 0.0
    dead_lettered: float = 0.0
    lag: float = 0.0
    batches: float = 0.0
    batch_seconds: float = 0.0

    @property
    def mean_batch_ms(self) -> float | None:
        return 1000 * self.batch_seconds / self.batches if self.batches else None


def _samples(registry: CollectorRegistry) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for family in registry.collect():
        for sample in family.samples:
            out[sample.name].append(sample)
    return out


def stage_health(registry: CollectorRegistry) -> tuple[list[StageHealth], dict[str, float]]:
    """Per-stage counters of this process, and the receivers' accepted counts.

    In ``aiops run`` the stages run in the API's process, so every stage shows; an API run
    on its own (scale-out) shows only its receivers, and the stages' figures are on each
    worker's ``/metrics`` (see the Grafana dashboard in ``deploy/grafana``).
    """
    samples = _samples(registry)
    stages: dict[str, StageHealth] = {}

    def of(labels: dict[str, str]) -> StageHealth:
        name = labels.get("stage", "?")
        if name not in stages:
            stages[name] = StageHealth(name)
        return stages[name]

    for s in samples.get("aiops_stage_events_in_total", []):
        of(s.labels).consumed += s.value
    for s in samples.get("aiops_stage_events_out_total", []):
        of(s.labels).produced += s.value
    for s in samples.get("aiops_dlq_records_total", []):
        of(s.labels).dead_lettered += s.value
    for s in samples.get("aiops_consumer_lag", []):
        of(s.labels).lag += s.value
    for s in samples.get("aiops_stage_batch_seconds_count", []):
        of(s.labels).batches += s.value
    for s in samples.get("aiops_stage_batch_seconds_sum", []):
        of(s.labels).batch_seconds += s.value
    receivers: dict[str, float] = defaultdict(float)
    for s in samples.get("aiops_receiver_items_total", []):
        receivers[s.labels.get("receiver", "?")] += s.value
    return sorted(stages.values(), key=lambda h: h.stage), dict(receivers)
