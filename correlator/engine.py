"""The topology-aware correlator: dedup, grouping, merges, inhibition, silences, flapping,
incident lifecycle and root-cause ranking, all in event time.

This module is the public face (:class:`correlator.types.Correlator`); the work is split by
job: where an alert goes (:mod:`correlator.fold`, grouping rules in
:mod:`correlator.grouping`), state changes and timers (:mod:`correlator.lifecycle`,
:mod:`correlator.timers`), the incident index (:mod:`correlator.incident_index`), held
change events (:mod:`correlator.held_changes`), flap detection (:mod:`correlator.flapping`),
alert classes (:mod:`correlator.alert_kinds`) and when incidents are ranked
(:mod:`correlator.rank_schedule`).

>>> from aiops.model import Alert
>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis"), ("ads", "adsdb")])
>>> c = TopologyCorrelator(graph=g)
>>> a1 = Alert({"alertname": "HighCPU", "service": "cart"}, {"score": "5"}, starts_at=100.0)
>>> a2 = Alert({"alertname": "HighLatency", "service": "frontend"}, {"score": "3"}, starts_at=130.0)
>>> a3 = Alert({"alertname": "HighLatency", "service": "ads"}, {"score": "3"}, starts_at=140.0)
>>> [i.version for i in c.process(a1)], [i.version for i in c.process(a2)]
([1], [2])
>>> c.process(a2)
[]
>>> inc = c.process(a3)[0]
>>> inc.version, len(c.open_incidents())
(1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from aiops.model import (
    Alert,
    CommandKind,
    ConflictError,
    Incident,
    IncidentCommand,
    IncidentStatus,
    NotFoundError,
)
from aiops.model.deviation import Deviation
from correlator.config import Silence
from correlator.fold import Fold
from correlator.state import IncidentState, StateDelta, event_time
from topology.graph import ServiceGraph


class TopologyCorrelator(Fold):
    """The correlator the pipeline runs (see the module docstring for its parts)."""

    def open_incidents(self) -> list[Incident]:
        return [s.snapshot() for s in self._incidents.values() if s.active]

    def incident(self, ident: str) -> Incident:
        state = self._incidents.get(ident)
        if state is None:
            raise NotFoundError("incident", ident)
        return state.snapshot()

    def add_silence(self, silence: Silence) -> None:
        """Start (or replace, by ``id``) a silence or maintenance window at runtime."""
        kept = tuple(s for s in self.config.silences if not silence.id or s.id != silence.id)
        self.config = replace(self.config, silences=(*kept, silence))

    def remove_silence(self, silence_id: str) -> bool:
        """Expire a silence early; ``False`` if no silence has that id."""
        kept = tuple(s for s in self.config.silences if s.id != silence_id)
        found = len(kept) != len(self.config.silences)
        self.config = replace(self.config, silences=kept)
        return found

    def set_graph(self, graph: ServiceGraph) -> None:
        """Swap in a new topology snapshot (runtime update); held incidents keep their nodes."""
        self.graph = graph
        self.mapper.graph = graph

    def forget_all(self) -> None:
        """Drop every incident and alert held (configuration, silences, topology, ranking and
        the deviation window stay), so that the owner can reload them from its store: after
        a failed batch, or when another replica may have changed them."""
        fresh = TopologyCorrelator(self.config, self.graph, self.ranking, self.mapper,
                                   deviations=self.deviations)
        stats, deltas = self.stats, self.deltas
        self.__dict__.update(fresh.__dict__)
        self.stats, self.deltas = stats, deltas

    def restore(self, incidents: Iterable[Incident]) -> None:
        for inc in incidents:
            if inc.id in self._incidents:
                continue
            state = IncidentState(
                id=inc.id, status=inc.status, opened_at=inc.opened_at,
                updated_at=inc.updated_at, first_ts=inc.opened_at, last_ts=inc.opened_at,
                timeline=list(inc.timeline), root_causes=inc.root_causes,
                resolved_at=inc.resolved_at, version=inc.version, raised=inc.raised)
            for alert in (*inc.alerts, *inc.changes):
                self._add(state, alert, self.mapper.node_for(alert.labels), inhibited=False)
                if not alert.firing:
                    state.last_resolved_ts = max(state.last_resolved_ts, event_time(alert))
            state.dirty_rank = False
            state.mark_stored()
            if inc.timeline and inc.timeline[-1].event == "merged_into":
                state.merged_into = inc.timeline[-1].note.rsplit(" ", 1)[-1]
            self._index.add(state)
            if state.status == IncidentStatus.PENDING:
                self._pending.push(inc.id, inc.opened_at + self.config.confirm_after)
            elif state.active and state.firing == 0:
                self._mark_quiet(state)

    def track_deltas(self) -> None:
        """From now on keep each published version's changes until :meth:`take_delta`
        takes them: for an owner that stores every version it is given."""
        self.deltas = True

    def take_delta(self, incident: Incident) -> StateDelta | None:
        """What changed in the incident up to this version since the deltas taken before
        (or since it was restored), for an incremental write; None if it is not held. The
        caller stores every version it is given (or a later one), so the deltas it takes
        add up to the whole incident."""
        state = self._incidents.get(incident.id)
        return None if state is None else state.take_delta(incident.version)

    def process(self, alert: Alert) -> list[Incident]:
        return [self._publish(state) for state in self._fold(alert)]

    def observe(self, deviations: Iterable[Deviation]) -> None:
        """Take in deviation summaries (the detect stage's ``aiops.deviations`` records);
        they change no incident by themselves, only what the next ranking sees."""
        if self.deviations is not None:
            self.deviations.observe(deviations)

    def process_batch(self, alerts: Iterable[Alert]) -> list[Incident]:
        """Fold many alerts in, then publish each changed incident once.

        Every change still gets its timeline entry, but an incident touched by 300 alerts
        of one consumer batch becomes one new version instead of 300, which is what keeps
        snapshotting and ranking affordable during a storm. Same final state as calling
        :meth:`process` per alert.
        """
        changed: dict[str, IncidentState] = {}
        for alert in alerts:
            for state in self._fold(alert):
                changed[state.id] = state
        return [self._publish(state) for state in changed.values()]

    def apply(self, command: IncidentCommand) -> list[Incident]:
        state = self._incidents.get(command.incident_id)
        if state is None:
            raise NotFoundError("incident", command.incident_id)
        if command.kind == CommandKind.ACKNOWLEDGE:
            if state.status == IncidentStatus.ACKNOWLEDGED:
                return []
            if state.status == IncidentStatus.RESOLVED:
                raise ConflictError("incident", state.id, "cannot acknowledge a resolved incident")
            state.status = IncidentStatus.ACKNOWLEDGED
            state.raised = True
            state.note(command.ts, "acknowledged", command.note, actor=command.actor)
            return [self._publish(state)]
        if state.status == IncidentStatus.RESOLVED:
            return []
        self._resolve(state, command.ts, "resolved", command.note, actor=command.actor)
        return [self._publish(state)]

    def tick(self, now: float) -> list[Incident]:
        """Event-time timers: pending incidents judged, quiet ones auto-resolved, deferred
        and re-diagnosed rankings, and every 30 s old state forgotten."""
        out = self._settle_pending(now)
        out.extend(self._auto_resolve(now))
        out.extend(self._schedule.tick(self._incidents, now, self.graph, self.config))
        if now - self._last_forget >= 30.0:
            self._last_forget = now
            self._forget(now)
        return out
