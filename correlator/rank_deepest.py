"""The rule baseline (strategy ``deepest``): the deepest deviating node first.

A deviating node none of whose callees deviates is where a fault that spread upward along
the calls must have started; among several such nodes, the strongest deviation first, then
the others by strength. It reads the same evidence as :mod:`correlator.rank_chain` (alerts and
deviations of the incident's neighbourhood) and is the yardstick any smarter ranking must
beat.

>>> from aiops.model.deviation import Deviation
>>> from correlator.types import NodeEvidence
>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("web", "api"), ("api", "db")])
>>> def ev(n, z):
...     d = Deviation(n, "latency", "latency", "latency", 1.0, 0.1, z, 0.0, 0.0)
...     return NodeEvidence(n, 0.0, 0.5, deviations=(d,))
>>> [c.service for c in DeepestRanker().rank({"web": ev("web", 50), "api": ev("api", 9)}, g)]
['api', 'web']
"""

from __future__ import annotations

from collections.abc import Mapping

from aiops.model import RootCause
from correlator.chain_evidence import profile
from correlator.diagnosis import describe
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


class DeepestRanker:
    """Deviating nodes with no deviating callee first, each group by strength."""

    name = "deepest"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        live = {n: e for n, e in evidence.items() if not e.inhibited} or dict(evidence)
        strength: dict[str, float] = {}
        for n in live:
            p = profile(evidence[n])
            strength[n] = max((s for k, s in p.items() if k != "traffic"), default=0.0)
        deviating = {n for n, s in strength.items() if s > 0.0}
        deep: dict[str, bool] = {}
        for n in live:
            below = graph.downstream(n) if graph is not None and n in graph else frozenset()
            deep[n] = not (deviating & set(below) - {n})
        order = sorted(live, key=lambda n: (not deep[n], -strength[n], n))
        out: list[RootCause] = []
        for n in order[: self.limit]:
            ev = evidence[n]
            lines = [describe(ev.deviations[0])] if ev.deviations else [
                f"{n}: alerts {', '.join(sorted(ev.alerts)) or 'none'}"]
            lines.append("no deviating dependency" if deep[n] else "a dependency deviates too")
            out.append(RootCause(n, round(strength[n] + (1000.0 if deep[n] else 0.0), 4),
                                 tuple(lines)))
        return out
