"""The real API application over the real local broker and a real store (SQLite file or a
fresh PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from aiops.app import Engine
from aiops.settings import Settings
from streams.topics import Topics
from tests.aiops.storage.conftest import db_url  # noqa: F401  (the store fixture, both kinds)


@pytest.fixture
def real_api(db_url: str, broker: str, topics: Topics) -> Callable[..., FastAPI]:  # noqa: F811
    """Build the application with the given ``api`` settings (credentials, limits)."""

    def build(**api: Any) -> FastAPI:
        settings = Settings.load(None)
        settings.store.url = db_url
        settings.kafka.bootstrap_servers = broker
        for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
            setattr(settings.topics, name, getattr(topics, name))
        for key, value in api.items():
            setattr(settings.api, key, value)
        engine = Engine.build(settings, broker)
        engine.ensure_topics()
        return engine.api()

    return build
