"""Mutable working state of one incident inside the correlator, and its frozen snapshots.

The correlator mutates this in place (cheap) and freezes it into an
:class:`aiops.model.Incident` only when it publishes a new version.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
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


#: timeline events about one member alert; beyond the newest ``TIMELINE_KEPT`` of them the
#: correlator keeps none in memory (the store has every entry, the feed shows the newest).
#: Entries about the incident itself (opened, reopened, acknowledged, resolved, merged) stay:
#: notifications count reopens on them.
MEMBER_EVENTS = frozenset({"alert_added", "alert_resolved", "alert_refired", "alert_inhibited",
                           "alert_moved", "change_attached", "flapping"})
TIMELINE_KEPT = 100


def _shared(values: Mapping[str, str]) -> dict[str, str]:
    return {sys.intern(k) if type(k) is str else k:
            sys.intern(v) if type(v) is str and len(v) <= 64 else v
            for k, v in values.items()}


def compact(alert: Alert) -> Alert:
    """The alert as a member is held: the same values, its short label strings shared with
    every other alert that has them (a service, a severity, a namespace), instead of one
    copy per alert as decoding made them (annotations, mostly sentences of their own, are
    kept as they are).

    >>> a = Alert({"alertname": "X", "service": "cart"}, {}, starts_at=1.0)
    >>> b = compact(Alert({"alertname": "Y", "service": "".join(["ca", "rt"])}, {}, 2.0))
    >>> compact(a) == a, compact(a).labels["service"] is b.labels["service"]
    (True, True)
    """
    return Alert(labels=_shared(alert.labels), annotations=alert.annotations,
                 starts_at=alert.starts_at, ends_at=alert.ends_at,
                 generator_url=alert.generator_url, status=alert.status,
                 fingerprint=alert.fingerprint)


@dataclass(frozen=True, slots=True)
class StateDelta:
    """What changed in an incident since the store last took it: member alerts (change
    events left out, the document lists those) that joined or changed, with their join
    order; fingerprints that left; new timeline entries with their positions."""

    alerts: tuple[tuple[int, Alert], ...]
    removed: tuple[str, ...]
    timeline: tuple[tuple[int, TimelineEntry], ...]


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
    _services: tuple[str, ...] = field(default=(), repr=False)  # ``nodes`` only grows
    # what changed since the last published version (see ``seal``): members that joined
    # or changed, members that left, the join order of the next member, and the timeline
    # entries (from ``_untaken`` on) that were not yet taken; ``_trimmed`` entries of the
    # timeline were taken and dropped from memory (the store holds them)
    _dirty: dict[str, None] = field(default_factory=dict, repr=False)
    _removed: set[str] = field(default_factory=set, repr=False)
    _seq: int = field(default=0, repr=False)
    _untaken: int = field(default=0, repr=False)
    _trimmed: int = field(default=0, repr=False)
    _sealed: list[tuple[int, StateDelta]] = field(default_factory=list, repr=False)

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
        alert = compact(alert)
        fp = alert.fingerprint
        starts = alert.starts_at
        is_firing = alert.firing
        self.members[fp] = alert
        self._dirty[fp] = None
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
        self._services = ()  # the node order is rebuilt
        alert = self.members.pop(fp)
        self._dirty.pop(fp, None)
        self._removed.add(fp)
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

    def _split(self) -> tuple[tuple[Alert, ...], tuple[Alert, ...]]:
        """Members by class, in the order they joined (change events are few: an incident
        without any, the usual case, is one copy of ``members``)."""
        if not self.changes:
            return tuple(self.members.values()), ()
        kinds = self.member_kind
        return (tuple(a for fp, a in self.members.items() if kinds[fp] != "change"),
                tuple(a for fp, a in self.members.items() if kinds[fp] == "change"))

    def member_changed(self, fp: str, alert: Alert, ts: float) -> None:
        """A held alert fired again or resolved: ``alert`` is its new state."""
        self.members[fp] = compact(alert)
        self._dirty[fp] = None
        ev = self.nodes[self.member_node[fp]]
        if alert.firing:
            ev.last_onset = max(ev.last_onset, alert.starts_at)
        if self.member_kind.get(fp) == "change":
            ev.last_change = max(ev.last_change, alert.starts_at)
            return
        ev.firing += 1 if alert.firing else -1
        ev.last_change = max(ev.last_change, ts)

    def seal(self, keep: bool = True) -> None:
        """Cut what changed since the last seal as the delta of the version just published
        (``version``), so a store that writes that version writes exactly its changes, not
        ones made after it; then trim the timeline kept in memory to the entries not yet
        sealed, the incident's own entries and the newest ``TIMELINE_KEPT`` about members.
        Without ``keep`` (no store takes the deltas) nothing is kept or trimmed."""
        if not keep:
            self._dirty.clear()
            self._removed.clear()
            return
        kinds, members = self.member_kind, self.members
        alerts = []
        for fp in self._dirty:
            if kinds.get(fp) != "change" and fp in members:
                alerts.append((self._seq, members[fp]))
                self._seq += 1
        base = self._trimmed
        timeline = tuple((base + i, self.timeline[i])
                         for i in range(self._untaken, len(self.timeline)))
        if alerts or self._removed or timeline:
            self._sealed.append((self.version, StateDelta(tuple(alerts),
                                                          tuple(sorted(self._removed)),
                                                          timeline)))
        self._dirty = {}
        self._removed = set()
        self._untaken = len(self.timeline)
        if len(self.timeline) > 2 * TIMELINE_KEPT:
            self._trim()

    def take_delta(self, version: int) -> StateDelta:
        """The changes of every sealed version up to ``version``, as one delta (a caller
        that coalesced versions stores the last one with the changes of all)."""
        alerts: dict[str, tuple[int, Alert]] = {}
        removed: set[str] = set()
        timeline: list[tuple[int, TimelineEntry]] = []
        while self._sealed and self._sealed[0][0] <= version:
            _, delta = self._sealed.pop(0)
            for fp in delta.removed:
                alerts.pop(fp, None)
                removed.add(fp)
            for seq, alert in delta.alerts:
                removed.discard(alert.fingerprint)
                held = alerts.get(alert.fingerprint)
                alerts[alert.fingerprint] = (seq if held is None else held[0], alert)
            timeline.extend(delta.timeline)
        return StateDelta(tuple(alerts.values()), tuple(sorted(removed)), tuple(timeline))

    def _trim(self) -> None:
        cut = len(self.timeline) - TIMELINE_KEPT
        kept = [e for e in self.timeline[:cut] if e.event not in MEMBER_EVENTS]
        if len(kept) == cut:
            return
        self._trimmed += cut - len(kept)
        self.timeline = kept + self.timeline[cut:]
        self._untaken = len(self.timeline)

    def mark_stored(self) -> None:
        """The state as it stands is what the store holds (it was just reloaded from it)."""
        self._sealed = []
        self._dirty = {}
        self._removed = set()
        self._seq = len(self.members)
        self._untaken = len(self.timeline)

    def title(self) -> str:
        top = self.root_causes[0].service if self.root_causes else next(iter(self.nodes), "?")
        names = self.nodes[top].alerts if top in self.nodes else ()
        what = min(names) if names else "alerts"  # not sorted: a node may have 20,000
        return (f"{top}: {what} ({len(self.members) - self.changes} alerts on {len(self.nodes)} "
                f"node{'s' if len(self.nodes) != 1 else ''})")

    def snapshot(self) -> Incident:
        services = self._services  # in the order they joined
        if len(services) != len(self.nodes):
            services = self._services = tuple(self.nodes)
        alerts, changes = self._split()
        return Incident(
            id=self.id, status=self.status, title=self.title(), severity=self.severity,
            opened_at=self.opened_at, updated_at=self.updated_at,
            alerts=alerts, services=services,
            root_causes=self.root_causes, timeline=tuple(self.timeline),
            resolved_at=self.resolved_at, version=self.version, changes=changes)


def _summary(alert: Alert) -> str:
    ann = alert.annotations
    return str(ann.get("summary") or ann.get("description") or "")
