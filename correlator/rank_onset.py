"""Ranking strategy ``onset``: the earliest alert first (faults usually show first where
they start)."""

from __future__ import annotations

from collections.abc import Mapping

from aiops.model import RootCause
from correlator.rank_common import _basic_evidence, _candidates
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


class OnsetRanker:
    """The earliest alerting node first; ties by higher score, then name."""

    name = "onset"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        cands = _candidates(evidence)
        ordered = sorted(cands, key=lambda e: (e.onset, -e.score, e.node))
        if not ordered:
            return []
        t0 = ordered[0].onset
        return [RootCause(e.node, round(1.0 / (1.0 + max(0.0, e.onset - t0) / 60.0), 4),
                          (_basic_evidence(e),))
                for e in ordered[: self.limit]]
