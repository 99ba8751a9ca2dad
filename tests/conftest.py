"""Shared fixtures: the real local Kafka-protocol broker, unique topic sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from streams.broker import LocalBroker
from streams.kafka import KafkaConfig
from streams.topics import Topics


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A Tansu broker on 127.0.0.1 for the whole test session."""
    with LocalBroker() as local:
        yield local.bootstrap_servers


@pytest.fixture
def kafka(broker: str) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers=broker, session_timeout_ms=6000)


@pytest.fixture
def topics() -> Topics:
    """Topic names unique to one test, so tests never see each other's records."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    return Topics(
        metrics=f"{prefix}.metrics", logs=f"{prefix}.logs", alerts=f"{prefix}.alerts",
        incidents=f"{prefix}.incidents", actions=f"{prefix}.actions", dlq=f"{prefix}.dlq",
        deviations=f"{prefix}.deviations", otlp_metrics=f"{prefix}.otlp_metrics",
        otlp_logs=f"{prefix}.otlp_logs", otlp_spans=f"{prefix}.otlp_spans",
    )
