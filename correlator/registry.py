"""The built-in correlators by name: a plain dict of factories, built on call.

As for detectors (:func:`detectors.registry.builtin_detectors`) there is no module-level
registry to mutate: callers take the dict, add their own entries if they like, and pass it
where a name must become a correlator (``aiops.correlation.build_correlator``, the
benchmarks, the conformance suite). Every entry meets :class:`correlator.types.Correlator`.

>>> from correlator.config import CorrelatorConfig
>>> sorted(builtin_correlators())
['naive', 'topology']
>>> c = builtin_correlators()["naive"](CorrelatorSpec(CorrelatorConfig()))
>>> type(c).__name__
'NaiveCorrelator'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from correlator.baseline import NaiveCorrelator
from correlator.config import CorrelatorConfig
from correlator.diagnosis import DeviationWindow
from correlator.engine import TopologyCorrelator
from correlator.ranking import strategy_by_name
from correlator.types import Correlator
from topology.graph import ServiceGraph


@dataclass(frozen=True)
class CorrelatorSpec:
    """What every correlator is built from: the configuration, the topology (``None``:
    time window only), the ranking strategy's name and whether deviation summaries are
    kept for diagnosis. A correlator uses what it understands of it."""

    config: CorrelatorConfig
    graph: ServiceGraph | None = None
    ranking: str = "composite"
    diagnosis: bool = False


CorrelatorFactory = Callable[[CorrelatorSpec], Correlator]


def topology_correlator(spec: CorrelatorSpec) -> TopologyCorrelator:
    """The engine: topology-aware grouping, lifecycle, ranking (and diagnosis)."""
    return TopologyCorrelator(spec.config, graph=spec.graph,
                              ranking=strategy_by_name(spec.ranking,
                                                       spec.config.max_root_causes),
                              deviations=DeviationWindow() if spec.diagnosis else None)


def naive_correlator(spec: CorrelatorSpec) -> NaiveCorrelator:
    """The linear-scan baseline the benchmarks compare against (window, quiet period and
    graph adjacency only)."""
    return NaiveCorrelator(window=spec.config.window, quiet_period=spec.config.quiet_period,
                           graph=spec.graph)


def builtin_correlators() -> dict[str, CorrelatorFactory]:
    """Name -> factory for every correlator the project ships."""
    return {"topology": topology_correlator, "naive": naive_correlator}
