"""Builds the correlator from settings: topology file, windows, quiet period."""

from __future__ import annotations

from pathlib import Path

from aiops.settings import CorrelationSettings
from correlator.config import CorrelatorConfig, host_down_inhibition
from correlator.engine import TopologyCorrelator
from topology.loaders import load_topology


def build_correlator(settings: CorrelationSettings) -> TopologyCorrelator:
    graph = load_topology(Path(settings.topology_file)) if settings.topology_file else None
    config = CorrelatorConfig(
        window=settings.window_s,
        quiet_period=settings.quiet_period_s,
        inhibitions=(host_down_inhibition(),),
    )
    return TopologyCorrelator(config=config, graph=graph)
