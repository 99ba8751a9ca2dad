"""What the API's routes need, built by :mod:`aiops.app` and stored on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from aiops.settings import ApiSettings
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.producer import EventProducer
from streams.topics import Topics


@dataclass
class ApiDeps:
    settings: ApiSettings
    store: Store
    producer: EventProducer
    topics: Topics
    telemetry: Telemetry
    #: the stage workers of this process (``aiops run``), for readiness; None in ``aiops api``
    workers: Callable[[], Sequence[Mapping[str, Any]]] | None = None


def deps(request: Request) -> ApiDeps:
    found: ApiDeps = request.app.state.deps
    return found
