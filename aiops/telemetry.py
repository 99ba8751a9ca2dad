"""The engine's own Prometheus metrics, on a registry owned by the app (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Telemetry:
    """Counters and histograms for every stage and receiver; implements ``StageMetrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_in = Counter(
            "aiops_stage_events_in_total", "Messages consumed by a stage.", ["stage", "topic"],
            registry=registry,
        )
        self.events_out = Counter(
            "aiops_stage_events_out_total", "Messages produced by a stage.", ["stage", "topic"],
            registry=registry,
        )
        self.dlq = Counter(
            "aiops_dlq_records_total", "Records sent to the dead-letter topic.",
            ["stage", "topic"], registry=registry,
        )
        self.latency = Histogram(
            "aiops_stage_batch_seconds", "Time to process and publish one batch.", ["stage"],
            buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self.consumer_lag = Gauge(
            "aiops_consumer_lag", "Messages behind the end of a partition.",
            ["stage", "topic", "partition"], registry=registry,
        )
        self.received = Counter(
            "aiops_receiver_items_total", "Items accepted by an HTTP receiver.", ["receiver"],
            registry=registry,
        )
        self.rejected = Counter(
            "aiops_receiver_rejected_total", "Requests an HTTP receiver refused.",
            ["receiver", "code"], registry=registry,
        )
        self.request_latency = Histogram(
            "aiops_receiver_request_seconds", "Receiver request latency.", ["receiver"],
            buckets=_LATENCY_BUCKETS, registry=registry,
        )

    # StageMetrics -------------------------------------------------------------------

    def consumed(self, stage: str, topic: str, count: int) -> None:
        self.events_in.labels(stage, topic).inc(count)

    def produced(self, stage: str, topic: str, count: int) -> None:
        self.events_out.labels(stage, topic).inc(count)

    def dead_lettered(self, stage: str, topic: str, count: int) -> None:
        self.dlq.labels(stage, topic).inc(count)

    def batch_latency(self, stage: str, seconds: float) -> None:
        self.latency.labels(stage).observe(seconds)

    def lag(self, stage: str, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(stage, topic, str(partition)).set(lag)
