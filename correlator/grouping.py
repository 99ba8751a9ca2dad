"""Which incidents a new alert belongs to: the causal grouping rules of the correlator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from aiops.model import IncidentStatus
from correlator.config import CorrelatorConfig
from correlator.state import IncidentState
from topology.graph import ServiceGraph

_RESOLVED = IncidentStatus.RESOLVED

#: The one pseudo-node every alert maps to when there is no topology (pure time window).
GLOBAL = "\x00all"


class Related(NamedTuple):
    """The nodes an alert's node relates to: what it depends on (``effect_of``: it may
    suffer from their problems), what depends on it (``cause_of``), and its ``peers``:
    the other replicas of its workload, whose alerts at the same time are one problem
    (a crash loop or a bad rollout takes every pod of a deployment down together)."""

    effect_of: frozenset[str]
    cause_of: frozenset[str]
    peers: frozenset[str] = frozenset()
    structural: frozenset[str] = frozenset()  # in effect_of: its pods, its host


def related_nodes(graph: ServiceGraph | None, node: str, config: CorrelatorConfig) -> Related:
    """Nodes ``node`` depends on, and nodes depending on it, within ``k_hops``, and its
    replicas.

    Undirected grouping puts every node within ``k_hops`` in both sets.
    """
    if graph is None:
        return Related(frozenset((GLOBAL,)), frozenset())
    k = config.k_hops
    if config.relation == "undirected":
        return Related(graph.within_hops(node, k), frozenset(), graph.replicas(node),
                       graph.structural(node))
    return Related(graph.downstream_within(node, k), graph.upstream_within(node, k),
                   graph.replicas(node), graph.structural(node))


def find_candidates(incidents: Mapping[str, IncidentState],
                    by_node: Mapping[str, set[str]],
                    related: Related, ts: float, node: str,
                    effects: str, config: CorrelatorConfig
                    ) -> tuple[list[IncidentState], list[IncidentState]]:
    """Incidents the new alert should join, and recently resolved ones it may reopen.

    Faults spread from a dependency to its dependents, so an alert on X may be an
    *effect* of a node X depends on while that node's problem is live (firing, or
    changed within ``linger``), and may be the *cause* of a node that depends on X only
    if X's onset is not later than that node's latest onset plus ``cause_lead`` (causes
    precede effects, give or take detection delays).

    Linked incidents merge when X ties them causally: X is on a node they hold, or may
    be the cause of them. A symptom shared by two incidents (a caller of both) does not
    make one cause: X then joins the oldest of those and they stay apart, unless
    ``merge_on_shared_effect`` is set. A change (a rollout) is an action, never a
    symptom, so with ``effects="none"`` it joins only as a possible cause or on its node.
    Saturation and outage alerts are causes more than effects: a slow callee makes its
    callers slow or failing, not saturated or down. With ``effects="structural"`` they join
    as effects only of what their node is made of or runs on (a service's pods, a pod's
    host), which keeps unrelated saturation out of a spreading incident.
    """
    window = config.window
    linger = config.linger
    lead = config.cause_lead
    active_ids: set[str] = set()
    strong: set[str] = set()
    recent: dict[str, float] = {}
    held_since = float("inf")  # onset of the problem already on this node, if any
    ids: set[str] = set()
    effect_of, cause_of, peers, structural = related
    for n in effect_of | cause_of | peers:
        hit = by_node.get(n)
        if not hit:
            continue
        for ident in hit:
            if ident in strong and n != node:  # its own node still sets held_since
                continue
            s = incidents[ident]
            if ts < s.first_ts - window:
                # Began well before the incident's problem: not part of it, active or
                # resolved. A restart reloads incidents newer than the alerts delivered again.
                continue
            if s.status == _RESOLVED:  # not s.active
                # the same problem back, not a neighbour's new one; or an alert that
                # began while the incident was still open and reached us late
                if n in (node, GLOBAL) or n in peers or \
                        (s.resolved_at is not None and ts <= s.resolved_at):
                    ids.add(ident)
                continue
            if n == GLOBAL:
                if ts <= s.last_ts + window:
                    active_ids.add(ident)
                    strong.add(ident)
                continue
            ev = s.nodes.get(n)
            if ev is None:
                continue
            if n in peers:  # replicas fail together, or it is another problem
                if abs(ts - ev.last_onset) <= lead:
                    active_ids.add(ident)
                    strong.add(ident)
            elif n == node:
                if ev.firing > 0 or ts - ev.last_change <= linger \
                        or ts <= ev.last_onset + window:  # live, or a recent onset
                    active_ids.add(ident)
                    strong.add(ident)
                    held_since = min(held_since, ev.onset)
            elif n in cause_of and ts <= ev.last_onset + lead:
                active_ids.add(ident)
                strong.add(ident)
            elif n in effect_of and (ev.firing > 0 or ts - ev.last_change <= linger) and (
                    effects == "all" or (effects == "structural" and n in structural)):
                active_ids.add(ident)
                recent[ident] = max(recent.get(ident, float("-inf")), ev.last_onset)
    active = sorted((incidents[i] for i in active_ids), key=lambda s: (s.opened_at, s.id))
    if not config.merge_on_shared_effect and len(active) > 1:
        weak = [st for st in active if st.id not in strong]
        if weak:
            # the likeliest cause of a symptom is the problem that began most recently
            # before it, not an old alert that happens to still fire nearby
            pick = max(weak, key=lambda st: (recent[st.id], -st.opened_at, st.id))
            if recent[pick.id] <= held_since + lead:
                active = [st for st in active if st.id in strong or st is pick]
            elif pick.raised:
                # A problem that began after this node's own could not have caused that
                # one, so the two are not merged; the new alert is its effect.
                active = [pick]
            else:
                active = [st for st in active if st.id in strong]
    resolved: list[IncidentState] = []
    for ident in ids:
        s = incidents[ident]
        if s.merged_into is None and s.raised and s.resolved_at is not None and \
                ts - s.resolved_at <= config.reopen_window:
            resolved.append(s)
    resolved.sort(key=lambda s: (-(s.resolved_at or 0.0), s.id))
    return active, resolved


def distant_cause(incidents: Mapping[str, IncidentState], by_node: Mapping[str, set[str]],
                  graph: ServiceGraph, state: IncidentState, reach: int,
                  window: float) -> IncidentState | None:
    """A raised incident, live on a node that ``state``'s nodes depend on within ``reach``
    hops, whose problem began before ``state``'s (within ``window``): symptoms travel up
    call chains whose middle links may never cross an alert threshold. Only asked of a
    pending incident that outlasted its hold, so one-off blips never get this far."""
    best: tuple[float, float, str] | None = None
    found: IncidentState | None = None
    onset = state.first_ts
    for own in state.nodes:
        for dep in graph.downstream_within(own, reach):
            for ident in by_node.get(dep, ()):
                other = incidents[ident]
                if other is state or not other.active or not other.raised:
                    continue
                ev = other.nodes.get(dep)
                if ev is None or ev.onset > onset or onset - ev.last_onset > window:
                    continue
                key = (ev.last_onset, -other.opened_at, other.id)
                if best is None or key > best:
                    best, found = key, other
    return found
