"""The topic catalogue: every topic the engine reads or writes, with its partitioning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names (configurable) and partition counts.

    Keys decide locality: metrics and logs are keyed by service so one worker holds a
    series' detector state; alerts go to a single partition by default so that every alert
    that may correlate meets on one correlator worker; incidents are keyed by incident id.
    """

    metrics: str = "aiops.metrics"
    logs: str = "aiops.logs"
    alerts: str = "aiops.alerts"
    incidents: str = "aiops.incidents"
    actions: str = "aiops.actions"
    dlq: str = "aiops.dlq"
    topology: str = "aiops.topology"
    # OTLP as the OpenTelemetry Collector's Kafka exporter writes it (its default names).
    otlp_metrics: str = "otlp_metrics"
    otlp_logs: str = "otlp_logs"
    otlp_spans: str = "otlp_spans"
    deviations: str = "aiops.deviations"
    data_partitions: int = 3
    alert_partitions: int = 1

    def specs(self) -> list[TopicSpec]:
        return [
            TopicSpec(self.metrics, self.data_partitions),
            TopicSpec(self.logs, self.data_partitions),
            TopicSpec(self.alerts, self.alert_partitions),
            TopicSpec(self.incidents, self.data_partitions),
            TopicSpec(self.actions, self.data_partitions),
            TopicSpec(self.dlq, 1),
            # One partition: updates apply in the order they were made.
            TopicSpec(self.topology, 1),
            TopicSpec(self.otlp_metrics, self.data_partitions),
            TopicSpec(self.otlp_logs, self.data_partitions),
            TopicSpec(self.otlp_spans, self.data_partitions),
            # Deviation summaries meet the alerts on the correlator: partitioned alike.
            TopicSpec(self.deviations, self.alert_partitions),
        ]
