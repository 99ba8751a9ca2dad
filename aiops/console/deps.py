"""What the console needs beyond the API's dependencies: the service graph it draws."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request

from aiops.console.broker_health import BrokerView
from topology.graph import ServiceGraph
from topology.loaders import load_topology
from topology.updates import apply_update


class TopologyView:
    """The service graph as the correlator sees it: the topology file with the runtime
    updates of the topology topic applied, rebuilt at most every ``refresh_s`` seconds.

    The API process does not own the graph (the correlate stage does), so the console reads
    the same sources the correlate stage starts from. ``history`` returns the topic's updates
    in order; ``None`` (no cluster) means the file alone.

    >>> TopologyView("", None).graph() is None
    True
    """

    def __init__(self, topology_file: str, history: Callable[[], Iterable[object]] | None,
                 refresh_s: float = 10.0) -> None:
        self._file = topology_file
        self._history = history
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._built_at = -float("inf")
        self._graph: ServiceGraph | None = None

    def graph(self) -> ServiceGraph | None:
        with self._lock:
            if time.monotonic() - self._built_at >= self._refresh_s:
                self._graph = self._build()
                self._built_at = time.monotonic()
            return self._graph

    def _build(self) -> ServiceGraph | None:
        graph = load_topology(Path(self._file)) if self._file else None
        if self._history is None:
            return graph
        for item in self._history():
            update = _decoded(item)
            if update is None:
                continue
            if graph is None:
                graph = ServiceGraph()
            try:
                apply_update(graph, update)
            except Exception:  # a bad update was refused by the correlator as well
                continue
        return graph


def _decoded(item: object) -> dict[str, Any] | None:
    """An update from the topic (bytes) or already decoded; ``None`` if it is not one."""
    if isinstance(item, bytes | bytearray):
        try:
            item = orjson.loads(item)
        except orjson.JSONDecodeError:
            return None
    return item if isinstance(item, dict) else None


@dataclass
class ConsoleDeps:
    """Built by :mod:`aiops.app`; ``topology`` may be a view with no graph at all, and
    ``broker`` is absent where there is no cluster to ask (tests, replay)."""

    topology: TopologyView = field(default_factory=lambda: TopologyView("", None))
    broker: BrokerView | None = None
    started_at: float = field(default_factory=time.time)


def console_deps(request: Request) -> ConsoleDeps:
    found: ConsoleDeps = request.app.state.console
    return found
