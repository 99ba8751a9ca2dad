"""The state a topology correlator holds, and the small steps every part of it shares.

The correlator is split by job: this module holds the parts (the incident index, flap
detection, held change events, the lifecycle timers, alert classes, inhibition and the
ranking schedule, each its own module) and adds a member to an incident;
:mod:`correlator.lifecycle` moves incidents between states, :mod:`correlator.fold` decides
where an alert goes, and :mod:`correlator.engine` is the public face.
"""

from __future__ import annotations

from aiops.model import Alert, Incident
from correlator.alert_kinds import AlertKinds
from correlator.config import CorrelatorConfig
from correlator.diagnosis import DeviationWindow
from correlator.flapping import FlapDetector
from correlator.grouping import Related, find_candidates, related_nodes
from correlator.held_changes import HeldChanges
from correlator.incident_index import IncidentIndex
from correlator.inhibition import InhibitionIndex
from correlator.rank_composite import CompositeRanker
from correlator.rank_schedule import RankSchedule
from correlator.state import IncidentState
from correlator.timers import PendingTimers, QuietTimers
from correlator.types import RankingStrategy
from topology.graph import ServiceGraph
from topology.mapping import LabelMapper


class CorrelatorCore:
    """The parts of a topology correlator and the steps they share (no public API)."""

    def __init__(self, config: CorrelatorConfig | None = None,
                 graph: ServiceGraph | None = None,
                 ranking: RankingStrategy | None = None,
                 mapper: LabelMapper | None = None,
                 deviations: DeviationWindow | None = None) -> None:
        self.config = config or CorrelatorConfig()
        # recent deviation summaries of every node; ranking reads the incident's
        # neighbourhood from it (correlator.diagnosis); None: rank on alerts alone
        self.deviations = deviations
        self.graph = graph
        self.ranking: RankingStrategy = ranking or CompositeRanker(
            limit=self.config.max_root_causes)
        self.mapper = mapper or LabelMapper(graph=graph)
        self._index = IncidentIndex()
        self._incidents = self._index.incidents
        self._flaps = FlapDetector()
        self._changes = HeldChanges()
        self._quiet = QuietTimers()
        self._pending = PendingTimers()
        self._kinds = AlertKinds()
        self._schedule = RankSchedule(self.ranking, deviations)
        # per inhibition rule: source fingerprint -> (node, incident id), node -> fingerprints
        self._inhibition = InhibitionIndex(self.config.inhibitions)
        self._inhibits = bool(self._inhibition)  # the rules are fixed for a correlator
        self._last_forget = float("-inf")
        # whether the owner stores every version through ``take_delta`` (then each version's
        # changes are kept until taken, and timelines are trimmed in memory)
        self.deltas = False
        self.stats: dict[str, int] = {"processed": 0, "duplicates": 0, "silenced": 0,
                                      "inhibited": 0, "merged": 0, "reopened": 0,
                                      "stale": 0, "flapping": 0, "changes_held": 0,
                                      "pending": 0, "confirmed": 0, "transient": 0,
                                      "unsupported": 0}

    def _add(self, state: IncidentState, alert: Alert, node: str, inhibited: bool) -> None:
        """Make ``alert`` on ``node`` a member of ``state`` and index it."""
        state.add_member(alert, node, self._kind(alert), inhibited)
        alert = state.members[alert.fingerprint]  # as held: indexes share its labels
        self._index.link(alert.fingerprint, node, state.id, self.graph is not None)
        if self._inhibits:
            self._inhibition.index(alert.fingerprint, alert, node,
                                   None if inhibited else state.id)
        if alert.firing:
            self._quiet.discard(state.id)

    def _publish(self, state: IncidentState) -> Incident:
        incident = self._schedule.publish(state, self.graph, self.config)
        state.seal(self.deltas)  # what this version changed, for the store (``take_delta``)
        return incident

    def _kind(self, alert: Alert) -> str:
        return self._kinds.of(alert, self.config.kind_words)

    def _silenced(self, alert: Alert, ts: float) -> bool:
        return any(s.active(ts) and s.matches(alert.labels) for s in self.config.silences)

    def _related(self, node: str) -> Related:
        return related_nodes(self.graph, node, self.config)

    def _candidates(self, related: Related, ts: float, node: str = "", effects: str = "all"
                    ) -> tuple[list[IncidentState], list[IncidentState]]:
        return find_candidates(self._incidents, self._index.by_node, related, ts, node,
                               effects, self.config)
