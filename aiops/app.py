"""The composition root: the only place that reads settings and builds things.

Everything else receives what it needs as arguments. ``aiops run`` (embedded default) and
``aiops worker``/``aiops api`` (scale-out) are thin wrappers over :class:`Engine`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.console.broker_health import BrokerView
from aiops.console.deps import ConsoleDeps, TopologyView
from aiops.model import ConfigError
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.stages.detect import DetectStage
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from aiops.wire.logmapping import LogFieldMapping
from streams.broker import LocalBroker
from streams.kafka import KafkaConfig, ensure_topics, read_topic_values
from streams.producer import EventProducer
from streams.runner import StageRunner
from streams.stage import Stage
from streams.topics import Topics

log = logging.getLogger(__name__)

STAGES = ("detect", "correlate", "act", "otlp")


def topics_from(settings: Settings) -> Topics:
    return Topics(**settings.topics.model_dump())


@contextmanager
def kafka_endpoint(settings: Settings) -> Iterator[str]:
    """The configured cluster, or a local broker started for the duration (embedded mode)."""
    if settings.kafka.bootstrap_servers:
        yield settings.kafka.bootstrap_servers
        return
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = LocalBroker(log_path=data_dir / "broker.log")
    with broker:
        log.info("embedded mode: local broker on %s (in-memory topics)", broker.bootstrap_servers)
        yield broker.bootstrap_servers


@dataclass
class Engine:
    """Everything a process of the engine shares, built once from :class:`Settings`."""

    settings: Settings
    kafka: KafkaConfig
    topics: Topics
    registry: CollectorRegistry
    telemetry: Telemetry
    store: Store

    @classmethod
    def build(cls, settings: Settings, bootstrap_servers: str, *, migrate: bool = True) -> Engine:
        if migrate:
            upgrade(settings.store.url)
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            settings=settings,
            kafka=KafkaConfig(
                bootstrap_servers=bootstrap_servers,
                client_id=settings.kafka.client_id,
                session_timeout_ms=settings.kafka.session_timeout_ms,
                extra=settings.kafka.extra,
            ),
            topics=topics_from(settings),
            registry=registry,
            telemetry=Telemetry(registry),
            store=Store(create_engine(settings.store.url)),
        )

    def ensure_topics(self) -> None:
        ensure_topics(self.kafka, self.topics.specs())

    # ------------------------------------------------------------------ stages

    def stage(self, name: str) -> Stage:
        s = self.settings
        if name == "detect":
            from functools import partial

            from aiops.storage.checkpoints import CheckpointStore
            from detectors import default_log_alerter, default_metric_alerter

            det = s.detection
            options: dict[str, Any] = {"accept_after_seconds": det.accept_after_s,
                                       "warmup": det.warmup_points,
                                       "scorers": tuple(det.scorers)}
            if det.threshold is not None:
                options["threshold"] = det.threshold
            mapping = LogFieldMapping.from_config(**s.log_mapping.model_dump())
            entity = None
            if det.entity_metrics:
                from detectors.entity import EntityAlerter

                entity = partial(EntityAlerter, det.entity_metrics,
                                 interval=det.entity_interval_s)
            deviations = log_deviations = None
            if s.correlation.diagnosis:
                from detectors.deviation import DeviationTracker
                from detectors.log_deviation import LogDeviationTracker

                deviations, log_deviations = DeviationTracker, LogDeviationTracker
            # Only workers of a consumer group move partitions; replays keep state in memory.
            checkpoints = (CheckpointStore(self.store.engine,
                                           f"{s.kafka.group_prefix}.detect")
                           if det.checkpoint_interval_s > 0 and self.kafka.bootstrap_servers
                           else None)
            return DetectStage(self.topics, partial(default_metric_alerter, **options),
                               default_log_alerter, log_decoder=mapping.decode,
                               entity_alerter=entity, series_idle_s=det.series_idle_s,
                               checkpoints=checkpoints,
                               checkpoint_interval_s=det.checkpoint_interval_s,
                               deviations=deviations, log_deviations=log_deviations)
        if name == "correlate":
            from aiops.correlation import TopologyUpdater, build_correlator
            from aiops.notify.build import build_notifier
            from aiops.silences import correlator_silence
            from aiops.storage.silences import SilenceStore

            correlator = build_correlator(s.correlation)
            # Notification rows are written in the same transaction as the incident change.
            notifier = build_notifier(s.notify, self.store, s.api.public_url, deliver=False)
            silence_store = SilenceStore(self.store.engine)
            return CorrelateStage(
                self.topics,
                correlator,
                self.store,
                notifications=notifier.messages if notifier is not None else None,
                silences=lambda after: map(correlator_silence, silence_store.in_force(after)),
                reopen_window=s.correlation.reopen_window_s,
                deviations=correlator.observe if s.correlation.diagnosis else None,
                max_message_bytes=self.kafka.max_message_bytes,
                topology=TopologyUpdater(correlator),
                # Without a cluster (replay) there is no topic history to replay.
                topology_history=(
                    (lambda: read_topic_values(self.kafka, self.topics.topology))
                    if self.kafka.bootstrap_servers
                    else None
                ),
            )
        if name == "otlp":
            return self._otlp_stage()
        if name == "act":
            from aiops.action import build_act_stage

            return build_act_stage(s, self.store, self.topics)
        raise ConfigError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")

    def _otlp_stage(self) -> Stage:
        from aiops.ingest.metrics import MetricMapper
        from aiops.ingest.red import RedAggregator
        from aiops.stages.otlp import OtlpIngestStage

        o = self.settings.otlp
        file_edges: list[tuple[str, str]] = []
        if o.replace_file_edges and self.settings.correlation.topology_file:
            from topology.loaders import load_topology

            graph = load_topology(self.settings.correlation.topology_file)
            file_edges = [(e.source, e.target) for e in graph.edges("calls")]
        return OtlpIngestStage(
            self.topics,
            resource_labels=o.resource_labels,
            red=RedAggregator(window_s=o.span_window_s, grace_s=o.span_grace_s,
                              edge_ttl_s=o.edge_ttl_s, quantile=o.latency_quantile,
                              file_edges=file_edges),
            mapper=MetricMapper(quantile=o.latency_quantile),
            max_record_bytes=o.max_record_bytes,
            topology_history=(
                (lambda: read_topic_values(self.kafka, self.topics.topology))
                if self.kafka.bootstrap_servers
                else None
            ),
        )

    def runner(self, name: str) -> StageRunner:
        return StageRunner(
            self.stage(name),
            self.kafka,
            group_id=f"{self.settings.kafka.group_prefix}.{name}",
            dlq_topic=self.topics.dlq,
            metrics=self.telemetry,
            auto_offset_reset=self.settings.kafka.auto_offset_reset,
        )

    # ------------------------------------------------------------------ api

    def api(self, producer: EventProducer | None = None,
            workers: Workers | None = None) -> FastAPI:
        return create_api(
            ApiDeps(
                settings=self.settings.api,
                store=self.store,
                producer=producer or EventProducer(self.kafka),
                topics=self.topics,
                telemetry=self.telemetry,
                workers=workers.status if workers is not None else None,
            ),
            self.console(),
        )

    def console(self) -> ConsoleDeps:
        """The console's view of the service graph: the correlate stage's sources."""
        history = (
            (lambda: read_topic_values(self.kafka, self.topics.topology, timeout=2.0))
            if self.kafka.bootstrap_servers
            else None
        )
        broker = None
        if self.kafka.bootstrap_servers:
            t = self.topics
            # each stage's input topics, as its Stage.topics() lists them
            inputs = {"detect": [t.metrics, t.logs], "correlate": [t.alerts, t.topology],
                      "act": [t.incidents],
                      "otlp": [t.otlp_metrics, t.otlp_logs, t.otlp_spans]}
            broker = BrokerView(self.kafka, self.settings.kafka.group_prefix, inputs, t.dlq)
        return ConsoleDeps(TopologyView(self.settings.correlation.topology_file, history),
                           broker)


class Workers:
    """Stage runners on threads of one process (the ``aiops run`` form)."""

    def __init__(self, runners: list[StageRunner]) -> None:
        self.runners = runners
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self) -> None:
        for runner in self.runners:
            thread = threading.Thread(
                target=self._run, args=(runner,), name=f"stage-{runner.stage.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, runner: StageRunner) -> None:
        try:
            runner.run()
        except BaseException as exc:
            log.exception("stage %s stopped with an error", runner.stage.name)
            self.errors.append(exc)

    def status(self) -> list[dict[str, Any]]:
        """Each runner's partitions, for readiness."""
        return [runner.status() for runner in self.runners]

    def wait_ready(self, timeout: float = 60.0) -> bool:
        return all(r.ready.wait(timeout) for r in self.runners)

    def stop(self, timeout: float = 15.0) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self._threads:
            thread.join(timeout)
