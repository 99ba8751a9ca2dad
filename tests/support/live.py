"""The whole engine live in the test process: every stage worker on the real broker and the
API on a free loopback port, as `aiops run` would run them, stopped however the test ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from aiops.app import STAGES, Engine, Workers
from aiops.settings import Settings
from streams.broker import free_port
from streams.topics import Topics
from tests.support.polling import eventually


def isolated(settings: Settings, tmp_path: Path, topics: Topics, broker: str) -> Settings:
    """``settings`` on the test's broker, its own topics, consumer groups, store and port."""
    settings.kafka.bootstrap_servers = broker
    settings.kafka.group_prefix = topics.metrics  # consumer groups unique to the test
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq", "deviations"):
        setattr(settings.topics, name, getattr(topics, name))
    settings.api.port = free_port()
    return settings


@contextmanager
def running(settings: Settings) -> Iterator[tuple[Engine, Workers, str]]:
    """The engine, its stage workers (ready) and the API's URL; everything stops on exit,
    and a worker that failed meanwhile fails the test."""
    engine = Engine.build(settings, settings.kafka.bootstrap_servers)
    engine.ensure_topics()
    workers = Workers([engine.runner(name) for name in STAGES])
    workers.start()
    server = uvicorn.Server(uvicorn.Config(engine.api(), host="127.0.0.1",
                                           port=settings.api.port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    try:
        assert workers.wait_ready(60), "stages did not join their consumer groups"
        assert eventually(lambda: server.started, 20), "the API did not listen"
        yield engine, workers, f"http://127.0.0.1:{settings.api.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        workers.stop()
    assert not workers.errors
