"""The topology-aware correlator: dedup, grouping, merges, inhibition, silences, flapping,
incident lifecycle and root-cause ranking, all in event time.

How an alert is folded in:

1. A silence active at the alert's time drops it (unless it updates an alert already held).
2. Dedup: an alert whose fingerprint is already a member with the same state (status and
   ``startsAt``) changes nothing, so at-least-once redelivery and Alertmanager's repeats are
   free. A member that resolves, or fires again, updates its incident.
3. Inhibition: an alert absorbed by a firing source alert joins the source's incident and is
   not a root-cause candidate.
4. Grouping: the alert's node (label rules, :class:`topology.mapping.LabelMapper`) is related
   to the nodes within ``k_hops`` on the graph; it joins the active incidents that hold a
   related node and were active within ``window``. Two or more such incidents merge into the
   oldest. With no graph, every alert within the window joins the open incident.
5. Otherwise a recently resolved related incident is reopened, or a new incident opens with a
   stable id derived from the alert's fingerprint and ``startsAt``.

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

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
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
from correlator.config import CorrelatorConfig, Silence, classify_alert
from correlator.diagnosis import DeviationWindow, diagnose
from correlator.grouping import GLOBAL as _GLOBAL
from correlator.grouping import Related, distant_cause, find_candidates, related_nodes
from correlator.inhibition import InhibitionIndex, claimable
from correlator.noise import alert_families, supported
from correlator.rank_composite import CompositeRanker
from correlator.state import IncidentState, event_time, incident_id
from correlator.types import NodeEvidence, RankingStrategy
from topology.graph import ServiceGraph
from topology.mapping import LabelMapper


class TopologyCorrelator:
    """The correlator the pipeline runs (see the module docstring for the algorithm)."""

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
        # explanation reaches further than grouping: an effect may sit several hops above
        # its cause even when each grouping step was one hop
        self.ranking: RankingStrategy = ranking or CompositeRanker(
            limit=self.config.max_root_causes)
        self.mapper = mapper or LabelMapper(graph=graph)
        self._incidents: dict[str, IncidentState] = {}
        self._by_fp: dict[str, str] = {}
        self._by_node: dict[str, set[str]] = {}
        self._flaps: dict[str, deque[float]] = {}
        self._flapping: set[str] = set()
        self._quiet: set[str] = set()
        self._quiet_due: list[tuple[float, str]] = []  # heap of (auto-resolve due, id)
        self._pending_due: list[tuple[float, str]] = []  # heap of (confirmation due, id)
        self._deferred: set[str] = set()
        # change events waiting for an incident to explain: fingerprint -> (node, alert)
        self._changes: dict[str, tuple[str, Alert]] = {}
        self._change_nodes: dict[str, int] = {}  # node -> how many of those are on it
        self._last_forget = float("-inf")
        self._diagnosed = -1  # deviation window version every raised incident was ranked on
        self._next_diagnosis = float("-inf")  # event time of the next re-diagnosis pass
        # incident id -> (node count, quiet neighbours) of its last diagnosis
        self._neighbours: dict[str, tuple[int, dict[str, NodeEvidence]]] = {}
        self._kinds: dict[tuple[str, str | None, str | None], str] = {}
        self._kinds_words = self.config.kind_words
        # per inhibition rule: source fingerprint -> (node, incident id), node -> fingerprints
        self._inhibition = InhibitionIndex(self.config.inhibitions)
        self._inhibits = bool(self._inhibition)  # the rules are fixed for a correlator
        self.stats: dict[str, int] = {"processed": 0, "duplicates": 0, "silenced": 0,
                                      "inhibited": 0, "merged": 0, "reopened": 0,
                                      "stale": 0, "flapping": 0, "changes_held": 0,
                                      "pending": 0, "confirmed": 0, "transient": 0,
                                      "unsupported": 0}

    # ------------------------------------------------------------------ public API

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
        stats = self.stats
        self.__dict__.update(fresh.__dict__)
        self.stats = stats

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
            if inc.timeline and inc.timeline[-1].event == "merged_into":
                state.merged_into = inc.timeline[-1].note.rsplit(" ", 1)[-1]
            self._incidents[inc.id] = state
            if state.status == IncidentStatus.PENDING:
                heapq.heappush(self._pending_due,
                               (inc.opened_at + self.config.confirm_after, inc.id))
            elif state.active and state.firing == 0:
                self._mark_quiet(state)

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

    def _fold(self, alert: Alert) -> list[IncidentState]:
        self.stats["processed"] += 1
        fp = alert.fingerprint
        ts = event_time(alert)
        held = self._by_fp.get(fp)
        if held is not None:
            return self._update_member(self._incidents[held], alert, ts)
        if fp in self._changes:
            self._changes[fp] = (self._changes[fp][0], alert)  # its resolution, or a repeat
            return []
        if not alert.firing:
            self.stats["stale"] += 1  # resolved before we ever saw it fire
            return []
        if self._silenced(alert, ts):
            self.stats["silenced"] += 1
            return []
        node = self.mapper.node_for(alert.labels)
        source = self._inhibition.find(alert, node, self.graph, self._active) \
            if self._inhibits else None
        if source is not None:
            self.stats["inhibited"] += 1
            state = self._incidents[source]
            self._add(state, alert, node, inhibited=True)
            state.note(ts, "alert_inhibited", f"{alert.name} on {node} absorbed")
            return [state]
        if self._inhibition and self.graph is not None:
            claimed = self._claim(alert, node, ts)
            if claimed:
                return claimed
        related = self._related(node)
        kind = self._kind(alert)
        is_change = kind == "change"
        effects = "none" if is_change else "all" if kind not in _CAUSE_KINDS else "structural"
        active, resolved = self._candidates(related, ts, node, effects=effects)
        if active:
            target = active[0]
            out: list[IncidentState] = []
            for other in active[1:]:
                out.append(self._merge(target, other, ts))
            self._add(target, alert, node, inhibited=False)
            target.note(ts, "alert_added", f"{alert.name} on {node}")
            if not is_change:
                self._attach_changes(target, node, related.effect_of, alert.starts_at, ts)
            self._confirm_if_corroborated(target, ts, kind)
            return [target, *out]
        if resolved:
            state = resolved[0]
            self._reopen(state, ts, f"{alert.name} on {node}")
            self._add(state, alert, node, inhibited=False)
            if not is_change:
                self._attach_changes(state, node, related.effect_of, alert.starts_at, ts)
            return [state]
        if is_change and not self.config.changes_open_incidents:
            self.stats["changes_held"] += 1
            self._hold_change(fp, node, alert)
            return []
        hold = self.config.confirm_after > 0 and kind in self.config.confirm_kinds
        state = IncidentState(id=incident_id(alert),
                              status=IncidentStatus.PENDING if hold else IncidentStatus.OPEN,
                              opened_at=alert.starts_at, updated_at=alert.starts_at,
                              first_ts=alert.starts_at, last_ts=alert.starts_at,
                              raised=not hold)
        self._incidents[state.id] = state
        self._add(state, alert, node, inhibited=False)
        if hold:
            self.stats["pending"] += 1
            state.note(ts, "pending", f"{alert.name} on {node}; raised if it lasts "
                       f"{self.config.confirm_after:.0f} s or is corroborated")
            heapq.heappush(self._pending_due,
                           (alert.starts_at + self.config.confirm_after, state.id))
        else:
            state.note(ts, "opened", f"{alert.name} on {node}")
        if not is_change:
            self._attach_changes(state, node, related.effect_of, alert.starts_at, ts)
        return [state]

    def _claim(self, alert: Alert, node: str, ts: float) -> list[IncidentState]:
        """A new inhibition source (a host going down) takes the alerts it explains that
        began with it, whichever arrived first: inhibition does not depend on arrival
        order, in Alertmanager either. Incidents made only of such alerts fold into the
        source's incident; from others just those alerts move, so a host failure is not
        glued to an unrelated incident that one of its pods' services was already in."""
        assert self.graph is not None
        rules = self._inhibition.topology_rules_of(alert)
        if not rules:
            return []
        moves = claimable(self._incidents, self._by_node, self.graph, rules, alert, node,
                          since=alert.starts_at - self.config.cause_lead)
        if not moves:
            return []
        whole = sorted((self._incidents[i] for i, fps in moves.items()
                        if len(fps) + self._incidents[i].changes
                        == len(self._incidents[i].members)),
                       key=lambda s: (s.opened_at, s.id))
        out: list[IncidentState] = []
        if whole:
            target = whole[0]
            out.append(target)
            for other in whole[1:]:
                out.append(self._merge(target, other, ts))
            if target.status == IncidentStatus.PENDING:
                self._confirm(target, ts, f"{alert.name} on {node}")
        else:
            target = IncidentState(id=incident_id(alert), status=IncidentStatus.OPEN,
                                   opened_at=alert.starts_at, updated_at=alert.starts_at,
                                   first_ts=alert.starts_at, last_ts=alert.starts_at)
            self._incidents[target.id] = target
            target.note(ts, "opened", f"{alert.name} on {node}")
            out.append(target)
        for ident in sorted(set(moves) - {s.id for s in whole}):
            src = self._incidents[ident]
            for fp in moves[ident]:
                moved, on, left = src.remove_member(fp)
                if not left:
                    ids = self._by_node.get(on)
                    if ids is not None:
                        ids.discard(src.id)
                src.note(ts, "alert_moved", f"{moved.name} on {on} to {target.id}, "
                         f"explained by {alert.name} on {node}")
                self._add(target, moved, on, inhibited=True)
                target.note(ts, "alert_inhibited", f"{moved.name} on {on} absorbed")
            if src.firing == 0 and src.active:
                self._mark_quiet(src)
            out.append(src)
        touched: set[str] = set()
        for fps in moves.values():
            target.inhibited.update(fps)
            touched.update(target.member_node[fp] for fp in fps)
        if touched:  # a node is inhibited when every alert on it is
            clear = {on for f, on in target.member_node.items()
                     if on in touched and f not in target.inhibited}
            for on in touched - clear:
                target.nodes[on].inhibited = True
        self._add(target, alert, node, inhibited=False)
        target.note(ts, "alert_added", f"{alert.name} on {node}")
        return out

    def _attach_changes(self, state: IncidentState, own: str, depends_on: frozenset[str],
                        onset: float, ts: float) -> None:
        """Held change events that may explain the alert join its incident as possible
        causes: on the alert's own node when made within ``window`` before it began, on a
        node it depends on within ``linger`` (the same reach a change has when it is
        already part of an incident)."""
        held = self._change_nodes
        if not held or not any(n in held for n in depends_on):
            return
        linger, window = self.config.linger, self.config.window
        for fp, (node, change) in list(self._changes.items()):
            reach = window if node == own else linger
            if node in depends_on and onset - reach <= change.starts_at <= onset:
                self._drop_change(fp)
                self._add(state, change, node, inhibited=False)
                state.note(ts, "change_attached", f"{change.name} on {node}")

    def _hold_change(self, fp: str, node: str, alert: Alert) -> None:
        """Keep a change event as context (in place if held already: the order stays)."""
        old = self._changes.get(fp)
        if old is not None:
            self._uncount_change(old[0])
        self._changes[fp] = (node, alert)
        self._change_nodes[node] = self._change_nodes.get(node, 0) + 1

    def _drop_change(self, fp: str) -> None:
        self._uncount_change(self._changes.pop(fp)[0])

    def _uncount_change(self, node: str) -> None:
        left = self._change_nodes[node] - 1
        if left:
            self._change_nodes[node] = left
        else:
            del self._change_nodes[node]

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
        out = self._settle_pending(now)
        quiet = self.config.quiet_period
        heap = self._quiet_due
        while heap and heap[0][0] <= now:
            _, ident = heapq.heappop(heap)
            state = self._incidents.get(ident)
            if ident not in self._quiet or state is None or not state.active \
                    or state.firing > 0 or state.status == IncidentStatus.PENDING:
                self._quiet.discard(ident)
                continue
            due = state.last_resolved_ts + quiet
            if due > now:  # an alert resolved again since: wait longer
                heapq.heappush(heap, (due, ident))
                continue
            self._quiet.discard(ident)
            # Resolved when the quiet period ended, not when the clock was next read:
            # the reopen window counts from there, whatever the tick cadence.
            self._resolve(state, state.last_resolved_ts + quiet, "auto_resolved",
                          f"all alerts resolved and quiet for {quiet:.0f} s")
            out.append(self._publish(state))
        for ident in sorted(self._deferred) if self._deferred else ():
            state = self._incidents.get(ident)
            if state is None or not state.dirty_rank:
                self._deferred.discard(ident)
            elif now - state.ranked_at >= self.config.rank_interval:
                self._rank(state)
                state.note(now, "reranked", f"{len(state.nodes)} nodes")
                state.version += 1
                out.append(state.snapshot())
        if self.deviations and self.deviations.version != self._diagnosed \
                and now >= self._next_diagnosis:
            self._next_diagnosis = now + self.config.rank_interval
            out.extend(self._rediagnose(now))
        if now - self._last_forget >= 30.0:
            self._last_forget = now
            self._forget(now)
        return out

    def _rediagnose(self, now: float) -> list[Incident]:
        """Keep the evidence of raised incidents current as deviations arrive: one pass at
        most every ``rank_interval`` seconds of event time re-ranks the active raised
        incidents not ranked since, publishing only those whose ranking moved."""
        assert self.deviations is not None
        out: list[Incident] = []
        version = self.deviations.version
        waiting = False
        for state in self._incidents.values():
            if not state.active or not state.raised or state.diag_version == version:
                continue
            if now - state.ranked_at < self.config.rank_interval:
                waiting = True
                continue
            before = state.root_causes
            self._neighbours.pop(state.id, None)  # look around afresh
            self._rank(state)
            state.ranked_at = now
            if state.root_causes != before:
                state.note(now, "reranked", "new deviations in its neighbourhood")
                state.version += 1
                out.append(state.snapshot())
        if not waiting:
            self._diagnosed = version
        return out

    # ------------------------------------------------------------------ steps

    def _update_member(self, state: IncidentState, alert: Alert, ts: float) -> list[IncidentState]:
        fp = alert.fingerprint
        held = state.members[fp]
        starts, held_starts = alert.starts_at, held.starts_at
        firing, held_firing = alert.firing, held.firing
        if starts < held_starts or (alert.status == held.status and starts == held_starts):
            self.stats["duplicates"] += 1
            return []
        if firing and not held_firing and starts == held_starts:
            self.stats["duplicates"] += 1  # the firing copy of an alert we saw resolve
            return []
        if not firing and held_firing and starts != held_starts:
            self.stats["duplicates"] += 1  # resolution of an older episode
            return []
        if firing and not held_firing and self._silenced(alert, ts):
            self.stats["silenced"] += 1
            return []
        if firing and not state.active and (
                state.merged_into is not None or not state.raised
                or ts - (state.resolved_at or ts) > self.config.reopen_window):
            del self._by_fp[fp]  # too late to reopen: a new episode, grouped afresh
            return self._fold(alert)
        flapping = self._flap(fp, ts)
        node = state.member_node[fp]
        state.member_changed(fp, alert, ts)
        if self._inhibits:
            self._inhibition.index(fp, alert, node, None if fp in state.inhibited else state.id)
        if alert.firing:
            state.firing += 1
            state.last_ts = max(state.last_ts, alert.starts_at)
            self._quiet.discard(state.id)
            if not state.active:
                self._reopen(state, ts, f"{alert.name} on {node} fired again")
            elif not flapping:
                state.note(ts, "alert_refired", f"{alert.name} on {node}")
        else:
            state.firing -= 1
            state.last_resolved_ts = max(state.last_resolved_ts, ts)
            if state.firing == 0 and state.active:
                self._mark_quiet(state)
            if not flapping:
                state.note(ts, "alert_resolved", f"{alert.name} on {node}")
        if flapping == "new":
            state.note(ts, "flapping", f"{alert.name} on {node} is flapping")
        elif flapping and state.active:
            return []
        return [state]

    def _flap(self, fp: str, ts: float) -> str | None:
        """Record a state change; ``"new"`` when the alert just started flapping."""
        history = self._flaps.setdefault(fp, deque())
        history.append(ts)
        horizon = ts - self.config.flap_window
        while history and history[0] < horizon:
            history.popleft()
        if len(history) >= self.config.flap_threshold:
            if fp not in self._flapping:
                self._flapping.add(fp)
                self.stats["flapping"] += 1
                return "new"
            return "yes"
        self._flapping.discard(fp)
        return None

    def _silenced(self, alert: Alert, ts: float) -> bool:
        return any(s.active(ts) and s.matches(alert.labels) for s in self.config.silences)

    def _mark_quiet(self, state: IncidentState) -> None:
        if state.id not in self._quiet:
            self._quiet.add(state.id)
            heapq.heappush(self._quiet_due,
                           (state.last_resolved_ts + self.config.quiet_period, state.id))

    def _active(self, ident: str) -> bool:
        state = self._incidents.get(ident)
        return state is not None and state.active

    def _related(self, node: str) -> Related:
        return related_nodes(self.graph, node, self.config)

    def _candidates(self, related: Related, ts: float,
                    node: str = "", effects: str = "all"
                    ) -> tuple[list[IncidentState], list[IncidentState]]:
        return find_candidates(self._incidents, self._by_node, related, ts, node, effects,
                               self.config)

    def _kind(self, alert: Alert) -> str:
        """:func:`classify_alert`, remembered per alert name, metric and ``kind`` label (a
        storm repeats a few dozen of those thousands of times)."""
        labels = alert.labels
        key = (labels.get("alertname", ""), labels.get("metric"), labels.get("kind"))
        kind = self._kinds.get(key)
        if kind is None:
            if self._kinds_words is not self.config.kind_words or len(self._kinds) > 4096:
                self._kinds.clear()
                self._kinds_words = self.config.kind_words
            kind = classify_alert(_kind_text(alert), self.config.kind_words, key[2])
            self._kinds[key] = kind
        return kind

    def _add(self, state: IncidentState, alert: Alert, node: str, inhibited: bool) -> None:
        kind = self._kind(alert)
        state.add_member(alert, node, kind, inhibited)
        self._by_fp[alert.fingerprint] = state.id
        if self._inhibits:
            self._inhibition.index(alert.fingerprint, alert, node,
                               None if inhibited else state.id)
        key = node if self.graph is not None else _GLOBAL
        self._by_node.setdefault(key, set()).add(state.id)
        if alert.firing:
            self._quiet.discard(state.id)

    def _merge(self, target: IncidentState, other: IncidentState,
               ts: float) -> IncidentState:
        """Fold ``other`` into ``target``; ``other`` is resolved as merged and published."""
        self.stats["merged"] += 1
        for fp, alert in other.members.items():
            node = other.member_node[fp]
            self._add(target, alert, node, inhibited=fp in other.inhibited)
            if not alert.firing:
                target.last_resolved_ts = max(target.last_resolved_ts, event_time(alert))
        for node in other.nodes:
            ids = self._by_node.get(node if self.graph is not None else _GLOBAL)
            if ids is not None:
                ids.discard(other.id)
        target.note(ts, "merged", f"absorbed {other.id}")
        self._confirm_if_corroborated(target, ts, "")
        other.merged_into = target.id
        if other.root_causes:
            other.dirty_rank = False  # its last ranking stands; the target carries on
        self._deferred.discard(other.id)
        self._resolve(other, ts, "merged_into", f"merged into {target.id}")
        return other

    def _confirm_if_corroborated(self, state: IncidentState, ts: float, kind: str) -> None:
        """Raise a pending incident once a second alert (not a change event) backs it, or
        an alert of a class that is never held (an outage) joins it."""
        if state.status != IncidentStatus.PENDING:
            return
        if kind and kind != "change" and kind not in self.config.confirm_kinds:
            self._confirm(state, ts, "an outage alert joined")
        elif alert_families(state) >= 2:
            self._confirm(state, ts, "corroborated by a second alert")

    def _confirm(self, state: IncidentState, ts: float, why: str) -> None:
        self.stats["confirmed"] += 1
        state.status = IncidentStatus.OPEN
        state.raised = True
        if self.deviations:
            state.dirty_rank = True  # ranked on its neighbourhood now that it is shown
        state.note(ts, "opened", why)

    def _settle_pending(self, now: float) -> list[Incident]:
        """Pending incidents whose time is up: raised if an alert was still firing when the
        hold ended, else dropped as transient (resolved, never raised; its alerts stay
        deduplicated)."""
        out: list[Incident] = []
        heap = self._pending_due
        hold = self.config.confirm_after
        while heap and heap[0][0] <= now:
            due, ident = heapq.heappop(heap)
            state = self._incidents.get(ident)
            if state is None or state.status != IncidentStatus.PENDING:
                continue
            # judged by event time: an alert that resolved after the hold ended lasted
            # longer than a blip, even if its resolution reached us before this tick
            if (state.firing > 0 or state.last_resolved_ts > due) and self.deviations \
                    and not supported(state, self.graph, self.deviations, hold):
                self.stats["unsupported"] += 1
                self._resolve(state, due, "unsupported",
                              "a lone symptom with no other deviating signal around it")
                self._release_changes(state)
            elif state.firing > 0 or state.last_resolved_ts > due:
                cause = self._distant_cause(state)
                if cause is not None:  # a far effect of a known problem, not a new one
                    out.append(self._publish(self._merge(cause, state, due)))
                    out.append(self._publish(cause))
                    continue
                self._confirm(state, due, f"still firing {hold:.0f} s after it began")
                if state.firing == 0:
                    self._mark_quiet(state)
            else:
                self.stats["transient"] += 1
                self._resolve(state, max(due, state.last_resolved_ts), "transient",
                              f"every alert cleared within {hold:.0f} s")
                self._release_changes(state)
            out.append(self._publish(state))
        return out

    def _release_changes(self, state: IncidentState) -> None:
        """Change events a dropped pending incident held go back to wait for another."""
        for fp, held in state.members.items():
            if state.member_kind.get(fp) == "change" and held.firing:
                self._hold_change(fp, state.member_node[fp], held)

    def _distant_cause(self, state: IncidentState) -> IncidentState | None:
        if self.graph is None or self.config.confirm_reach <= self.config.k_hops:
            return None
        return distant_cause(self._incidents, self._by_node, self.graph, state,
                             self.config.confirm_reach, self.config.window)

    def _reopen(self, state: IncidentState, ts: float, why: str) -> None:
        self.stats["reopened"] += 1
        state.status = IncidentStatus.OPEN
        state.raised = True
        state.resolved_at = None
        state.note(ts, "reopened", why)

    def _resolve(self, state: IncidentState, ts: float, event: str, note: str,
                 actor: str = "engine") -> None:
        state.status = IncidentStatus.RESOLVED
        state.resolved_at = ts
        self._quiet.discard(state.id)
        state.note(ts, event, note, actor=actor)

    def _publish(self, state: IncidentState) -> Incident:
        if state.dirty_rank:
            n = len(state.nodes)
            if n <= self.config.rank_eager_nodes or n >= state.ranked_nodes * \
                    self.config.rank_growth or \
                    not state.root_causes:
                self._rank(state)
            else:
                self._deferred.add(state.id)  # big incident: re-ranked by tick()
        state.version += 1
        return state.snapshot()

    def _rank(self, state: IncidentState) -> None:
        evidence = self._evidence(state)
        state.root_causes = tuple(self.ranking.rank(evidence, self.graph))
        state.diag_version = self.deviations.version if self.deviations is not None else -1
        state.dirty_rank = False
        state.ranked_nodes = len(state.nodes)
        state.ranked_at = state.updated_at
        self._deferred.discard(state.id)

    def _evidence(self, state: IncidentState) -> Mapping[str, NodeEvidence]:
        """What the ranking sees: the incident's nodes, widened by diagnosis to its deviating
        neighbourhood once it is raised (a pending incident is shown to no one). The quiet
        neighbours found are reused until the timer's re-diagnosis pass (at most every
        ``rank_interval``) looks again, or the incident doubled; the members' own deviations
        are always read afresh."""
        if not self.deviations or not state.raised:
            return state.nodes
        cached = self._neighbours.get(state.id)
        size = len(state.nodes)
        reuse = cached if cached is not None and size < 2 * cached[0] else None
        evidence = diagnose(state.nodes, self.graph, self.deviations, at=state.first_ts,
                            until=max(state.last_ts, state.first_ts),
                            neighbours=reuse[1] if reuse is not None else None)
        if reuse is None:
            self._neighbours[state.id] = (size, {
                n: e for n, e in evidence.items() if n not in state.nodes})
        return evidence

    def _forget(self, now: float) -> None:
        """Drop resolved incidents once they can no longer reopen, old flap history, and
        held change events no incident took in time."""
        stale = now - self.config.linger - self.config.window
        if self.deviations:
            self.deviations.expire(now)
        for fp in [f for f, (_, a) in self._changes.items() if a.starts_at < stale]:
            self._drop_change(fp)
        horizon = self.config.reopen_window
        gone = [i for i, s in self._incidents.items()
                if not s.active and s.resolved_at is not None and now - s.resolved_at > horizon]
        for ident in gone:
            state = self._incidents.pop(ident)
            self._neighbours.pop(ident, None)
            self._deferred.discard(ident)
            for fp in state.members:
                if self._by_fp.get(fp) == ident:
                    del self._by_fp[fp]
                    if self._inhibits:
                        self._inhibition.index(fp, state.members[fp], "", None)
                    self._flaps.pop(fp, None)
                    self._flapping.discard(fp)
            for node in state.nodes:
                key = node if self.graph is not None else _GLOBAL
                ids = self._by_node.get(key)
                if ids is not None:
                    ids.discard(ident)
                    if not ids:
                        del self._by_node[key]


#: alert classes that name a cause more than an effect (see ``grouping.find_candidates``)
_CAUSE_KINDS = frozenset(("resource", "availability"))


def _kind_text(alert: Alert) -> str:
    """What an alert's class is read from: its name, and the metric it is about when a
    generic detector alert (``MetricAnomaly{metric="cpu"}``) names it only in a label."""
    metric = alert.labels.get("metric")
    return f"{alert.name} {metric}" if metric else alert.name
