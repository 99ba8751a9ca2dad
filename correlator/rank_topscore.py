"""Ranking strategy ``top-score``: the highest anomaly score first (the simplest useful
answer)."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from aiops.model import RootCause
from correlator.rank_common import _basic_evidence, _candidates
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


class TopScoreRanker:
    """The highest-scored alerting node first; ties by earlier onset, then name.

    >>> from correlator.types import NodeEvidence
    >>> ev = {"a": NodeEvidence("a", onset=5, score=2.0),
    ...       "b": NodeEvidence("b", onset=1, score=3.0)}
    >>> [c.service for c in TopScoreRanker().rank(ev, None)]
    ['b', 'a']
    """

    name = "top-score"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        ordered = heapq.nsmallest(self.limit, _candidates(evidence),
                                  key=lambda e: (-e.score, e.onset, e.node))
        return [RootCause(e.node, round(e.score, 4), (_basic_evidence(e),)) for e in ordered]
