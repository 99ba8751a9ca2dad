"""Where an alert goes: the fold of one alert into the incidents held.

1. A silence active at the alert's time drops it (unless it updates an alert already held).
2. Dedup: an alert whose fingerprint is already a member with the same state (status and
   ``startsAt``) changes nothing, so at-least-once redelivery and Alertmanager's repeats are
   free. A member that resolves, or fires again, updates its incident.
3. Inhibition: an alert absorbed by a firing source alert joins the source's incident and is
   not a root-cause candidate; a new topology source claims the alerts it explains.
4. Grouping (:mod:`correlator.grouping`): the alert joins the active incidents that hold a
   related node; two or more such incidents merge into the oldest.
5. Otherwise a recently resolved related incident is reopened, a change event is held as
   context, or a new incident opens (pending, if its class is held for confirmation).
"""

from __future__ import annotations

from aiops.model import Alert, IncidentStatus
from correlator.alert_kinds import effects_allowed
from correlator.inhibition import claimable
from correlator.lifecycle import Lifecycle
from correlator.state import IncidentState, event_time, incident_id


class Fold(Lifecycle):
    """Folding alerts in; returns the incidents each alert changed (published later)."""

    def _fold(self, alert: Alert) -> list[IncidentState]:
        self.stats["processed"] += 1
        fp = alert.fingerprint
        ts = event_time(alert)
        held = self._index.by_fp.get(fp)
        if held is not None:
            return self._update_member(self._incidents[held], alert, ts)
        if fp in self._changes:
            self._changes.update(fp, alert)  # its resolution, or a repeat
            return []
        if not alert.firing:
            self.stats["stale"] += 1  # resolved before we ever saw it fire
            return []
        if self._silenced(alert, ts):
            self.stats["silenced"] += 1
            return []
        node = self.mapper.node_for(alert.labels)
        source = self._inhibition.find(alert, node, self.graph, self._index.active) \
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
        active, resolved = self._candidates(related, ts, node, effects=effects_allowed(kind))
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
            self._changes.hold(fp, node, alert)
            return []
        return [self._open(alert, node, kind, related.effect_of, ts)]

    def _open(self, alert: Alert, node: str, kind: str, depends_on: frozenset[str],
              ts: float) -> IncidentState:
        """A new incident for ``alert``, pending if its class is held for confirmation."""
        hold = self.config.confirm_after > 0 and kind in self.config.confirm_kinds
        state = IncidentState(id=incident_id(alert),
                              status=IncidentStatus.PENDING if hold else IncidentStatus.OPEN,
                              opened_at=alert.starts_at, updated_at=alert.starts_at,
                              first_ts=alert.starts_at, last_ts=alert.starts_at,
                              raised=not hold)
        self._index.add(state)
        self._add(state, alert, node, inhibited=False)
        if hold:
            self.stats["pending"] += 1
            state.note(ts, "pending", f"{alert.name} on {node}; raised if it lasts "
                       f"{self.config.confirm_after:.0f} s or is corroborated")
            self._pending.push(state.id, alert.starts_at + self.config.confirm_after)
        else:
            state.note(ts, "opened", f"{alert.name} on {node}")
        if kind != "change":
            self._attach_changes(state, node, depends_on, alert.starts_at, ts)
        return state

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
        moves = claimable(self._incidents, self._index.by_node, self.graph, rules, alert,
                          node, since=alert.starts_at - self.config.cause_lead)
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
            self._index.add(target)
            target.note(ts, "opened", f"{alert.name} on {node}")
            out.append(target)
        for ident in sorted(set(moves) - {s.id for s in whole}):
            src = self._incidents[ident]
            for fp in moves[ident]:
                moved, on, left = src.remove_member(fp)
                if not left:
                    self._index.unlink_node(on, src.id, keyed=True)
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

    def _update_member(self, state: IncidentState, alert: Alert, ts: float
                       ) -> list[IncidentState]:
        """An alert already held changed state (resolved, fired again) or is a repeat."""
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
            del self._index.by_fp[fp]  # too late to reopen: a new episode, grouped afresh
            return self._fold(alert)
        flapping = self._flaps.record(fp, ts, self.config.flap_window,
                                      self.config.flap_threshold)
        if flapping == "new":
            self.stats["flapping"] += 1
        node = state.member_node[fp]
        state.member_changed(fp, alert, ts)
        if self._inhibits:  # the member as held, so the index shares its labels
            self._inhibition.index(fp, state.members[fp], node,
                                   None if fp in state.inhibited else state.id)
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

    def _attach_changes(self, state: IncidentState, own: str, depends_on: frozenset[str],
                        onset: float, ts: float) -> None:
        """Held change events that may explain the alert join its incident as possible
        causes (see :meth:`correlator.held_changes.HeldChanges.take`)."""
        for _, node, change in self._changes.take(own, depends_on, onset,
                                                  window=self.config.window,
                                                  linger=self.config.linger):
            self._add(state, change, node, inhibited=False)
            state.note(ts, "change_attached", f"{change.name} on {node}")
