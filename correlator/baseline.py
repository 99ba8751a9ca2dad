"""The naive baseline the benchmarks compare against: every alert is checked against every
open incident and every member alert in it, with no index.

Grouping is by time window only (or, with a graph, window plus "same or adjacent node"),
the root cause is the highest-scored alerting service. It is what a first implementation
looks like, and it makes the cost of not indexing visible.

>>> from aiops.model import Alert
>>> c = NaiveCorrelator(window=60)
>>> a = c.process(Alert({"alertname": "A", "service": "x"}, {"score": "2"}, starts_at=0))[0]
>>> b = c.process(Alert({"alertname": "B", "service": "y"}, {"score": "5"}, starts_at=30))[0]
>>> a.id == b.id, b.root_causes[0].service
(True, 'y')
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.model import (
    Alert,
    CommandKind,
    Incident,
    IncidentCommand,
    IncidentStatus,
    NotFoundError,
    RootCause,
    TimelineEntry,
    service_of,
)
from aiops.model.deviation import Deviation
from correlator.config import Silence
from correlator.state import event_time, incident_id
from topology.graph import ServiceGraph


class NaiveCorrelator:
    """Linear-scan correlator (see the module docstring)."""

    name = "naive"

    def __init__(self, window: float = 300.0, quiet_period: float = 300.0,
                 graph: ServiceGraph | None = None) -> None:
        self.window = window
        self.quiet_period = quiet_period
        self.graph = graph
        self.incidents: list[Incident] = []
        self.silences: list[Silence] = []

    def restore(self, incidents: Iterable[Incident]) -> None:
        self.incidents.extend(i for i in incidents if i.status != IncidentStatus.RESOLVED)

    def _related(self, a: str, b: str) -> bool:
        if self.graph is None or a == b:
            return True
        nx = self.graph.nx
        return bool(a in nx and b in nx and (nx.has_edge(a, b) or nx.has_edge(b, a)))

    def process(self, alert: Alert) -> list[Incident]:
        ts = event_time(alert)
        for pos, inc in enumerate(self.incidents):  # dedup: scan every member of every incident
            for i, member in enumerate(inc.alerts):
                if member.fingerprint != alert.fingerprint:
                    continue
                if member.status == alert.status and member.starts_at == alert.starts_at:
                    return []
                if alert.starts_at < member.starts_at:
                    return []
                if alert.firing and not member.firing and alert.starts_at == member.starts_at:
                    return []  # the firing copy of an alert seen resolved (redelivered)
                alerts = (*inc.alerts[:i], alert, *inc.alerts[i + 1:])
                return [self._replace(pos, inc, alerts, ts, "alert_updated")]
        if not alert.firing or any(s.active(ts) and s.matches(alert.labels)
                                   for s in self.silences):
            return []
        service = service_of(alert.labels)
        for pos, inc in enumerate(self.incidents):  # grouping: scan again
            if inc.status == IncidentStatus.RESOLVED:
                continue
            if any(abs(alert.starts_at - m.starts_at) <= self.window
                   and self._related(service, m.service) for m in inc.alerts):
                return [self._replace(pos, inc, (*inc.alerts, alert), ts, "alert_added")]
        inc = Incident(id=incident_id(alert), status=IncidentStatus.OPEN, title=alert.name,
                       severity=alert.severity, opened_at=alert.starts_at, updated_at=ts,
                       alerts=(alert,), services=(service,),
                       root_causes=(RootCause(service, alert.score),),
                       timeline=(TimelineEntry(ts, "opened", IncidentStatus.OPEN),))
        self.incidents.append(inc)
        return [inc]

    def _replace(self, pos: int, inc: Incident, alerts: tuple[Alert, ...], ts: float,
                 event: str, status: IncidentStatus | None = None) -> Incident:
        best: dict[str, float] = {}
        for a in alerts:
            best[a.service] = max(best.get(a.service, 0.0), a.score)
        ranked = sorted(best, key=lambda s: (-best[s], s))
        new_status = status or inc.status
        new = Incident(id=inc.id, status=new_status, title=inc.title, severity=inc.severity,
                       opened_at=inc.opened_at, updated_at=max(ts, inc.updated_at),
                       alerts=alerts, services=tuple(sorted(best)),
                       root_causes=tuple(RootCause(s, best[s]) for s in ranked[:5]),
                       timeline=(*inc.timeline, TimelineEntry(ts, event, new_status)),
                       resolved_at=ts if new_status == IncidentStatus.RESOLVED else None,
                       version=inc.version + 1)
        self.incidents[pos] = new
        return new

    def apply(self, command: IncidentCommand) -> list[Incident]:
        for pos, inc in enumerate(self.incidents):
            if inc.id != command.incident_id:
                continue
            target = IncidentStatus.ACKNOWLEDGED if command.kind == CommandKind.ACKNOWLEDGE \
                else IncidentStatus.RESOLVED
            if inc.status == target or inc.status == IncidentStatus.RESOLVED:
                return []
            return [self._replace(pos, inc, inc.alerts, command.ts, target.value, target)]
        raise NotFoundError("incident", command.incident_id)

    def tick(self, now: float) -> list[Incident]:
        out = []
        for pos, inc in enumerate(self.incidents):
            if inc.status == IncidentStatus.RESOLVED or any(a.firing for a in inc.alerts):
                continue
            last = max(event_time(a) for a in inc.alerts)
            if now - last >= self.quiet_period:
                out.append(self._replace(pos, inc, inc.alerts, now, "auto_resolved",
                                         IncidentStatus.RESOLVED))
        if out:  # only open incidents are kept (and scanned)
            self.incidents = [i for i in self.incidents if i.status != IncidentStatus.RESOLVED]
        return out

    # The rest of the correlator contract, done the simple way.

    def process_batch(self, alerts: Iterable[Alert]) -> list[Incident]:
        changed: dict[str, Incident] = {}
        for alert in alerts:
            for inc in self.process(alert):
                changed[inc.id] = inc
        return list(changed.values())

    def observe(self, deviations: Iterable[Deviation]) -> None:
        """Deviation summaries are ignored: the baseline ranks on alert scores alone."""

    def add_silence(self, silence: Silence) -> None:
        self.silences = [s for s in self.silences if not silence.id or s.id != silence.id]
        self.silences.append(silence)

    def remove_silence(self, silence_id: str) -> bool:
        kept = [s for s in self.silences if s.id != silence_id]
        found, self.silences = len(kept) != len(self.silences), kept
        return found

    def set_graph(self, graph: ServiceGraph) -> None:
        self.graph = graph

    def forget_all(self) -> None:
        self.incidents = []

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents if i.status != IncidentStatus.RESOLVED]
