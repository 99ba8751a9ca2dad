"""When incidents are (re-)ranked, and on what evidence: the schedule that keeps root-cause
ranking affordable in a storm while the ranking stays current.

* A changed incident is ranked when it is published, unless it is big (more than
  ``rank_eager_nodes`` nodes) and has not grown by ``rank_growth`` since its last ranking:
  then it is deferred, and re-ranked by the timer at most every ``rank_interval``.
* With a deviation window (diagnosis), a raised incident is ranked on its deviating
  neighbourhood (:func:`correlator.diagnosis.diagnose`), not only on its alerting nodes. The
  quiet neighbours found are kept until the timer's re-diagnosis pass looks again or the
  incident doubled; the members' own deviations are always read afresh.
* The re-diagnosis pass (at most every ``rank_interval`` of event time, when new deviations
  arrived) re-ranks the raised incidents not ranked since and publishes those whose ranking
  moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiops.model import Incident
from correlator.config import CorrelatorConfig
from correlator.diagnosis import DeviationWindow, diagnose
from correlator.state import IncidentState
from correlator.types import NodeEvidence, RankingStrategy
from topology.graph import ServiceGraph


class RankSchedule:
    """Ranks incidents with ``ranking``, on the evidence of ``deviations`` when given."""

    def __init__(self, ranking: RankingStrategy, deviations: DeviationWindow | None) -> None:
        self.ranking = ranking
        self.deviations = deviations
        self._deferred: set[str] = set()  # big incidents waiting for the timer's re-rank
        self._diagnosed = -1  # deviation window version every raised incident was ranked on
        self._next_diagnosis = float("-inf")  # event time of the next re-diagnosis pass
        # incident id -> (node count, quiet neighbours) of its last diagnosis
        self._neighbours: dict[str, tuple[int, dict[str, NodeEvidence]]] = {}

    def publish(self, state: IncidentState, graph: ServiceGraph | None,
                config: CorrelatorConfig) -> Incident:
        """The incident's next version, ranked first if it changed and is due."""
        if state.dirty_rank:
            n = len(state.nodes)
            if n <= config.rank_eager_nodes or n >= state.ranked_nodes * config.rank_growth \
                    or not state.root_causes:
                self.rank(state, graph)
            else:
                self._deferred.add(state.id)  # big incident: re-ranked by tick()
        state.version += 1
        return state.snapshot()

    def rank(self, state: IncidentState, graph: ServiceGraph | None) -> None:
        evidence = self._evidence(state, graph)
        state.root_causes = tuple(self.ranking.rank(evidence, graph))
        state.diag_version = self.deviations.version if self.deviations is not None else -1
        state.dirty_rank = False
        state.ranked_nodes = len(state.nodes)
        state.ranked_at = state.updated_at
        self._deferred.discard(state.id)

    def undefer(self, ident: str) -> None:
        """A deferred incident was merged away: its last ranking stands."""
        self._deferred.discard(ident)

    def forget(self, ident: str) -> None:
        self._neighbours.pop(ident, None)
        self._deferred.discard(ident)

    def tick(self, incidents: Mapping[str, IncidentState], now: float,
             graph: ServiceGraph | None, config: CorrelatorConfig) -> list[Incident]:
        """The timer's share: deferred re-ranks that are due, then the re-diagnosis pass."""
        out: list[Incident] = []
        for ident in sorted(self._deferred) if self._deferred else ():
            state = incidents.get(ident)
            if state is None or not state.dirty_rank:
                self._deferred.discard(ident)
            elif now - state.ranked_at >= config.rank_interval:
                self.rank(state, graph)
                state.note(now, "reranked", f"{len(state.nodes)} nodes")
                state.version += 1
                out.append(state.snapshot())
        if self.deviations and self.deviations.version != self._diagnosed \
                and now >= self._next_diagnosis:
            self._next_diagnosis = now + config.rank_interval
            out.extend(self._rediagnose(incidents.values(), now, graph, config))
        return out

    def _rediagnose(self, incidents: Iterable[IncidentState], now: float,
                    graph: ServiceGraph | None, config: CorrelatorConfig) -> list[Incident]:
        """Keep the evidence of raised incidents current as deviations arrive: re-rank the
        active raised incidents not ranked since, publishing only those whose ranking moved."""
        assert self.deviations is not None
        out: list[Incident] = []
        version = self.deviations.version
        waiting = False
        for state in incidents:
            if not state.active or not state.raised or state.diag_version == version:
                continue
            if now - state.ranked_at < config.rank_interval:
                waiting = True
                continue
            before = state.root_causes
            self._neighbours.pop(state.id, None)  # look around afresh
            self.rank(state, graph)
            state.ranked_at = now
            if state.root_causes != before:
                state.note(now, "reranked", "new deviations in its neighbourhood")
                state.version += 1
                out.append(state.snapshot())
        if not waiting:
            self._diagnosed = version
        return out

    def _evidence(self, state: IncidentState, graph: ServiceGraph | None
                  ) -> Mapping[str, NodeEvidence]:
        """What the ranking sees: the incident's nodes, widened by diagnosis to its deviating
        neighbourhood once it is raised (a pending incident is shown to no one)."""
        if not self.deviations or not state.raised:
            return state.nodes
        cached = self._neighbours.get(state.id)
        size = len(state.nodes)
        reuse = cached if cached is not None and size < 2 * cached[0] else None
        evidence = diagnose(state.nodes, graph, self.deviations, at=state.first_ts,
                            until=max(state.last_ts, state.first_ts),
                            neighbours=reuse[1] if reuse is not None else None)
        if reuse is None:
            self._neighbours[state.id] = (size, {
                n: e for n, e in evidence.items() if n not in state.nodes})
        return evidence
