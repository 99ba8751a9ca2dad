"""Builds the correlator from settings: which correlator, topology file, windows, quiet
period, ranking and diagnosis."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiops.model import ConfigError
from aiops.settings import CorrelationSettings
from correlator.config import CorrelatorConfig, host_down_inhibition
from correlator.registry import CorrelatorFactory, CorrelatorSpec, builtin_correlators
from correlator.types import Correlator
from topology.graph import ServiceGraph
from topology.loaders import load_topology
from topology.updates import apply_update


def build_correlator(settings: CorrelationSettings,
                     correlators: Mapping[str, CorrelatorFactory] | None = None) -> Correlator:
    """The correlator ``settings.correlator`` names, from ``correlators`` (the built-in
    ones, :func:`correlator.registry.builtin_correlators`, unless given)."""
    known = builtin_correlators() if correlators is None else correlators
    make = known.get(settings.correlator)
    if make is None:
        raise ConfigError(f"unknown correlator {settings.correlator!r} "
                          f"(one of {', '.join(sorted(known))})")
    graph = load_topology(Path(settings.topology_file)) if settings.topology_file else None
    config = CorrelatorConfig(
        window=settings.window_s,
        quiet_period=settings.quiet_period_s,
        reopen_window=settings.reopen_window_s,
        confirm_after=settings.confirm_after_s,
        inhibitions=(host_down_inhibition(),),
    )
    return make(CorrelatorSpec(config, graph, ranking=settings.ranking,
                               diagnosis=settings.diagnosis))


class TopologyUpdater:
    """Applies runtime topology updates to the graph the correlator holds."""

    def __init__(self, correlator: Correlator) -> None:
        self._correlator = correlator

    def __call__(self, update: Mapping[str, Any]) -> int:
        graph = self._correlator.graph
        if graph is None:
            graph = ServiceGraph()
            self._correlator.set_graph(graph)
        return apply_update(graph, update)
