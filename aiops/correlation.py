"""Builds the correlator from settings: topology file, windows, quiet period."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiops.settings import CorrelationSettings
from correlator.config import CorrelatorConfig, host_down_inhibition
from correlator.diagnosis import DeviationWindow
from correlator.engine import TopologyCorrelator
from correlator.ranking import strategy_by_name
from topology.graph import ServiceGraph
from topology.loaders import load_topology
from topology.updates import apply_update


def build_correlator(settings: CorrelationSettings) -> TopologyCorrelator:
    graph = load_topology(Path(settings.topology_file)) if settings.topology_file else None
    config = CorrelatorConfig(
        window=settings.window_s,
        quiet_period=settings.quiet_period_s,
        reopen_window=settings.reopen_window_s,
        confirm_after=settings.confirm_after_s,
        inhibitions=(host_down_inhibition(),),
    )
    return TopologyCorrelator(config=config, graph=graph,
                              ranking=strategy_by_name(settings.ranking),
                              deviations=DeviationWindow() if settings.diagnosis else None)


class TopologyUpdater:
    """Applies runtime topology updates to the graph the correlator holds."""

    def __init__(self, correlator: TopologyCorrelator) -> None:
        self._correlator = correlator

    def __call__(self, update: Mapping[str, Any]) -> int:
        graph = self._correlator.graph
        if graph is None:
            graph = ServiceGraph()
            self._correlator.set_graph(graph)
        return apply_update(graph, update)
