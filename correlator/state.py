"""Mutable working state of one incident inside the correlator, and its frozen snapshots.

The correlator mutates this in place (cheap) and freezes it into an
:class:`aiops.model.Incident` only when it publishes a new version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiops.model import (
    SEVERITY_RANK,
    Alert,
    Incident,
    IncidentStatus,
    RootCause,
    TimelineEntry,
)
from correlator.types import NodeEvidence


def incident_id(first: Alert) -> str:
    """Stable id from the first alert's identity and start, so replays give the same ids.

    >>> a = Alert(labels={"alertname": "X", "service": "cart"}, annotations={}, starts_at=10.0)
    >>> incident_id(a) == incident_id(a)
    True
    """
    digest = hashlib.blake2b(f"{first.fingerprint}:{first.starts_at:.3f}".encode(),
                             digest_size=8).hexdigest()
    return f"inc-{digest}"


def event_time(alert: Alert) -> float:
    """When an alert's current state happened: its start if firing, else its end."""
    if alert.firing or alert.ends_at is None:
        return alert.starts_at
    return alert.ends_at


@dataclass(slots=True)
class IncidentState:
    id: str
    status: IncidentStatus
    opened_at: float
    updated_at: float
    first_ts: float
    last_ts: float
    members: dict[str, Alert] = field(default_factory=dict)
    nodes: dict[str, NodeEvidence] = field(default_factory=dict)
    member_node: dict[str, str] = field(default_factory=dict)
    member_kind: dict[str, str] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    root_causes: tuple[RootCause, ...] = ()
    resolved_at: float | None = None
    version: int = 0
    firing: int = 0
    last_resolved_ts: float = 0.0
    inhibited: set[str] = field(default_factory=set)
    merged_into: str | None = None
    dirty_rank: bool = True
    ranked_nodes: int = 0
    ranked_at: float = 0.0
    diag_version: int = -1  # deviation window version it was last ranked on
    raised: bool = True  # ever open or acknowledged; False while pending, and if dropped
    changes: int = 0  # members that are change events
    severity_rank: int = 0
    severity: str = "info"
    # members split by class in ``members`` order, so a snapshot copies two lists instead
    # of filtering every member (big incidents publish hundreds of versions in a storm)
    _problems: list[Alert] = field(default_factory=list, repr=False)
    _contexts: list[Alert] = field(default_factory=list, repr=False)
    _slot: dict[str, int] = field(default_factory=dict, repr=False)
    _split_stale: bool = field(default=False, repr=False)
    _services: tuple[str, ...] = field(default=(), repr=False)  # ``nodes`` only grows

    @property
    def active(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    def note(self, ts: float, event: str, note: str = "", actor: str = "engine") -> None:
        self.timeline.append(TimelineEntry(ts=ts, event=event, status=self.status,
                                           actor=actor, note=note))
        if ts > self.updated_at:
            self.updated_at = ts

    def add_member(self, alert: Alert, node: str, kind: str, inhibited: bool) -> None:
        """Record a new member alert and update its node's evidence."""
        fp = alert.fingerprint
        starts = alert.starts_at
        is_firing = alert.firing
        self._place(fp, alert, kind)
        self.members[fp] = alert
        self.member_node[fp] = node
        if is_firing:
            self.firing += 1
        if starts > self.last_ts:
            self.last_ts = starts  # onsets keep the window open
        if starts < self.first_ts:
            self.first_ts = starts
        severity = alert.severity
        rank = SEVERITY_RANK.get(severity, 1)
        if rank > self.severity_rank:
            self.severity_rank = rank
            self.severity = severity
        if inhibited:
            self.inhibited.add(fp)
        if kind == "change" and self.member_kind.get(fp) != "change":
            self.changes += 1
        self.member_kind[fp] = kind
        self._add_evidence(alert, node, kind, inhibited)

    def _add_evidence(self, alert: Alert, node: str, kind: str, inhibited: bool) -> None:
        # (``if b > a: a = b`` is exactly ``a = max(a, b)``, without the call)
        score = alert.score
        starts = alert.starts_at
        is_firing = alert.firing
        is_change = kind == "change"
        ev = self.nodes.get(node)
        firing = 1 if is_firing and not is_change else 0
        changed = starts if is_change or is_firing or alert.ends_at is None \
            else alert.ends_at  # event_time(alert) for a condition
        if ev is None:
            self.nodes[node] = NodeEvidence(
                node=node, onset=starts, score=score, kinds={kind},
                alerts={alert.name}, summary=_summary(alert), inhibited=inhibited,
                firing=firing, last_change=changed, last_onset=starts)
            self.dirty_rank = True
            return
        ev.count += 1
        ev.firing += firing
        if changed > ev.last_change:
            ev.last_change = changed
        if starts > ev.last_onset:
            ev.last_onset = starts
        if kind not in ev.kinds:
            ev.kinds.add(kind)
            self.dirty_rank = True
        ev.alerts.add(alert.name)
        if not inhibited and ev.inhibited:
            ev.inhibited = False
            self.dirty_rank = True
        if starts < ev.onset:
            ev.onset = starts
            self.dirty_rank = True
        if score > ev.score:
            ev.score = score
            ev.summary = _summary(alert) or ev.summary
            self.dirty_rank = True

    def remove_member(self, fp: str) -> tuple[Alert, str, bool]:
        """Take a member out (it moves to another incident); returns the alert, its node,
        and whether other members remain on that node. The node's evidence is rebuilt
        from the members left on it."""
        self._split_stale = True  # the per-class lists and the node order are rebuilt
        self._services = ()
        alert = self.members.pop(fp)
        node = self.member_node.pop(fp)
        kind = self.member_kind.pop(fp)
        self.inhibited.discard(fp)
        if kind == "change":
            self.changes -= 1
        if alert.firing:
            self.firing -= 1
        del self.nodes[node]
        left = False
        for other, on in self.member_node.items():
            if on == node:
                left = True
                self._add_evidence(self.members[other], node, self.member_kind[other],
                                   other in self.inhibited)
        self.dirty_rank = True
        return alert, node, left

    def _place(self, fp: str, alert: Alert, kind: str) -> None:
        """Keep the per-class member lists in step with ``members`` (before it changes)."""
        if self._split_stale:
            return  # rebuilt from ``members`` when next needed
        old = self.member_kind.get(fp)
        if old is None:
            bucket = self._contexts if kind == "change" else self._problems
            self._slot[fp] = len(bucket)
            bucket.append(alert)
        elif (old == "change") == (kind == "change"):
            (self._contexts if kind == "change" else self._problems)[self._slot[fp]] = alert
        else:  # a member changed class: rebuilt from ``members`` when next needed
            self._split_stale = True

    def _split(self) -> tuple[list[Alert], list[Alert]]:
        if self._split_stale:
            self._problems, self._contexts, self._slot = [], [], {}
            for fp, alert in self.members.items():
                bucket = self._contexts if self.member_kind[fp] == "change" else self._problems
                self._slot[fp] = len(bucket)
                bucket.append(alert)
            self._split_stale = False
        return self._problems, self._contexts

    def member_changed(self, fp: str, alert: Alert, ts: float) -> None:
        """A held alert fired again or resolved: ``alert`` is its new state."""
        self._place(fp, alert, self.member_kind[fp])
        self.members[fp] = alert
        ev = self.nodes[self.member_node[fp]]
        if alert.firing:
            ev.last_onset = max(ev.last_onset, alert.starts_at)
        if self.member_kind.get(fp) == "change":
            ev.last_change = max(ev.last_change, alert.starts_at)
            return
        ev.firing += 1 if alert.firing else -1
        ev.last_change = max(ev.last_change, ts)

    def title(self) -> str:
        top = self.root_causes[0].service if self.root_causes else next(iter(self.nodes), "?")
        names = sorted(self.nodes[top].alerts) if top in self.nodes else []
        what = names[0] if names else "alerts"
        return (f"{top}: {what} ({len(self.members) - self.changes} alerts on {len(self.nodes)} "
                f"node{'s' if len(self.nodes) != 1 else ''})")

    def snapshot(self) -> Incident:
        services = self._services  # in the order they joined
        if len(services) != len(self.nodes):
            services = self._services = tuple(self.nodes)
        problems, contexts = self._split()
        alerts, changes = tuple(problems), tuple(contexts)
        return Incident(
            id=self.id, status=self.status, title=self.title(), severity=self.severity,
            opened_at=self.opened_at, updated_at=self.updated_at,
            alerts=alerts, services=services,
            root_causes=self.root_causes, timeline=tuple(self.timeline),
            resolved_at=self.resolved_at, version=self.version, changes=changes)


def _summary(alert: Alert) -> str:
    ann = alert.annotations
    return str(ann.get("summary") or ann.get("description") or "")
