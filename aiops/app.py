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
from aiops.model import ConfigError
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.stages.detect import DetectStage
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.broker import LocalBroker
from streams.kafka import KafkaConfig, ensure_topics, read_topic_values
from streams.mapping import LogFieldMapping
from streams.producer import EventProducer
from streams.runner import StageRunner
from streams.stage import Stage
from streams.topics import Topics

log = logging.getLogger(__name__)

STAGES = ("detect", "correlate", "act")


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
            from detectors import default_log_alerter, default_metric_alerter

            metric_alerter = (
                default_metric_alerter()
                if s.detection.threshold is None
                else default_metric_alerter(threshold=s.detection.threshold)
            )
            mapping = LogFieldMapping.from_config(**s.log_mapping.model_dump())
            entity = None
            if s.detection.entity_metrics:
                from detectors.entity import EntityAlerter

                entity = EntityAlerter(s.detection.entity_metrics,
                                       interval=s.detection.entity_interval_s)
            return DetectStage(self.topics, metric_alerter, default_log_alerter(),
                               log_decoder=mapping.decode, entity_alerter=entity,
                               series_idle_s=s.detection.series_idle_s)
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
                reopen_window=correlator.config.reopen_window,
                max_message_bytes=self.kafka.max_message_bytes,
                topology=TopologyUpdater(correlator),
                # Without a cluster (replay) there is no topic history to replay.
                topology_history=(
                    (lambda: read_topic_values(self.kafka, self.topics.topology))
                    if self.kafka.bootstrap_servers
                    else None
                ),
            )
        if name == "act":
            from aiops.action import build_act_stage

            return build_act_stage(s, self.store, self.topics)
        raise ConfigError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")

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
            )
        )


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
