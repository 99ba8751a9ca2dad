"""The incident lifecycle: pending -> open (confirmed, or dropped as transient or
unsupported), merged, reopened, quiet -> auto-resolved, and finally forgotten, all in event
time.

A lone alert of a class in ``confirm_kinds`` opens a *pending* incident, shown to no one:
it is raised when a second alert family backs it, an outage alert joins it, or an alert is
still firing when the hold (``confirm_after``) ends; otherwise it is dropped as transient.
With diagnosis, a pending incident whose hold ended with no other deviating signal around
it is dropped as unsupported. An incident whose alerts all resolved auto-resolves after
``quiet_period``; a resolved one may reopen within ``reopen_window`` and is forgotten after.
"""

from __future__ import annotations

from aiops.model import Incident, IncidentStatus
from correlator.core import CorrelatorCore
from correlator.grouping import distant_cause
from correlator.noise import alert_families, supported
from correlator.state import IncidentState, event_time


class Lifecycle(CorrelatorCore):
    """State changes of incidents, and the timers that drive them."""

    def _merge(self, target: IncidentState, other: IncidentState,
               ts: float) -> IncidentState:
        """Fold ``other`` into ``target``; ``other`` is resolved as merged and published."""
        self.stats["merged"] += 1
        for fp, alert in other.members.items():
            node = other.member_node[fp]
            self._add(target, alert, node, inhibited=fp in other.inhibited)
            if not alert.firing:
                target.last_resolved_ts = max(target.last_resolved_ts, event_time(alert))
        keyed = self.graph is not None
        for node in other.nodes:
            self._index.unlink_node(node, other.id, keyed)
        target.note(ts, "merged", f"absorbed {other.id}")
        self._confirm_if_corroborated(target, ts, "")
        other.merged_into = target.id
        if other.root_causes:
            other.dirty_rank = False  # its last ranking stands; the target carries on
        self._schedule.undefer(other.id)
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
        hold = self.config.confirm_after
        for due, ident in self._pending.due(now):
            state = self._incidents.get(ident)
            if state is None or state.status != IncidentStatus.PENDING:
                continue
            # judged by event time: an alert that resolved after the hold ended lasted
            # longer than a blip, even if its resolution reached us before this tick
            lasted = state.firing > 0 or state.last_resolved_ts > due
            if lasted and self.deviations \
                    and not supported(state, self.graph, self.deviations, hold):
                self.stats["unsupported"] += 1
                self._resolve(state, due, "unsupported",
                              "a lone symptom with no other deviating signal around it")
                self._release_changes(state)
            elif lasted:
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

    def _auto_resolve(self, now: float) -> list[Incident]:
        """Quiet incidents whose quiet period ended by ``now`` resolve."""
        out: list[Incident] = []
        quiet = self.config.quiet_period
        for ident in self._quiet.due(now):
            state = self._incidents.get(ident)
            if ident not in self._quiet or state is None or not state.active \
                    or state.firing > 0 or state.status == IncidentStatus.PENDING:
                self._quiet.discard(ident)
                continue
            due = state.last_resolved_ts + quiet
            if due > now:  # an alert resolved again since: wait longer
                self._quiet.push(ident, due)
                continue
            self._quiet.discard(ident)
            # Resolved when the quiet period ended, not when the clock was next read:
            # the reopen window counts from there, whatever the tick cadence.
            self._resolve(state, state.last_resolved_ts + quiet, "auto_resolved",
                          f"all alerts resolved and quiet for {quiet:.0f} s")
            out.append(self._publish(state))
        return out

    def _release_changes(self, state: IncidentState) -> None:
        """Change events a dropped pending incident held go back to wait for another."""
        for fp, held in state.members.items():
            if state.member_kind.get(fp) == "change" and held.firing:
                self._changes.hold(fp, state.member_node[fp], held)

    def _distant_cause(self, state: IncidentState) -> IncidentState | None:
        if self.graph is None or self.config.confirm_reach <= self.config.k_hops:
            return None
        return distant_cause(self._incidents, self._index.by_node, self.graph, state,
                             self.config.confirm_reach, self.config.window)

    def _mark_quiet(self, state: IncidentState) -> None:
        self._quiet.mark(state.id, state.last_resolved_ts + self.config.quiet_period)

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

    def _forget(self, now: float) -> None:
        """Drop resolved incidents once they can no longer reopen, old flap history, and
        held change events no incident took in time."""
        stale = now - self.config.linger - self.config.window
        if self.deviations:
            self.deviations.expire(now)
        self._changes.expire(stale)
        horizon = self.config.reopen_window
        gone = [i for i, s in self._incidents.items()
                if not s.active and s.resolved_at is not None and now - s.resolved_at > horizon]
        keyed = self.graph is not None
        for ident in gone:
            self._schedule.forget(ident)
            state, released = self._index.drop(ident, keyed)
            for fp in released:
                if self._inhibits:
                    self._inhibition.index(fp, state.members[fp], "", None)
                self._flaps.forget(fp)
