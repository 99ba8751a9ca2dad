"""Noise control: what counts as corroboration, and what a lone symptom needs to be raised.

Real telemetry fires in families: the p50, p90, p95 and p99 of one latency cross their
thresholds together, and so do the pods of one service. Counting them as independent alerts
turns one wobble into "corroborated" incidents several times an hour, so corroboration
counts *families* (:func:`alert_families`). And a symptom alone (a latency or error alert
with nothing else abnormal on its node or next to it) is the classic false page: with the
deviation window available, a pending symptom-only incident is raised only when some other
signal around it deviates too (:func:`supported`).

>>> from aiops.model import Alert
>>> alert_family(Alert({"alertname": "MetricAnomaly", "metric": "latency",
...                     "statistic": "p99", "service": "web", "severity": "warning"}, {}, 0))
'latency'
"""

from __future__ import annotations

from aiops.model import Alert
from aiops.model.deviation import family_of
from correlator.diagnosis import DeviationWindow
from correlator.edge_evidence import filed_as
from correlator.state import IncidentState
from topology.graph import ServiceGraph

_ALERT_ONLY = frozenset({"alertname", "severity", "metric", "kind", "detector"})


def alert_family(alert: Alert) -> str:
    """The series family an alert is about: its ``metric`` label (detector alerts) or its
    name, plus the labels that are not statistics, quantiles or instances."""
    labels = alert.labels
    name = labels.get("metric") or labels.get("alertname", "")
    return family_of(name, {k: v for k, v in labels.items() if k not in _ALERT_ONLY})


def alert_families(state: IncidentState) -> int:
    """Distinct (node, family) pairs among an incident's alerts, change events left out."""
    seen: set[tuple[str, str]] = set()
    for fp, kind in state.member_kind.items():
        if kind != "change":
            seen.add((state.member_node[fp], alert_family(state.members[fp])))
    return len(seen)


def supported(state: IncidentState, graph: ServiceGraph | None, window: DeviationWindow,
              span: float) -> bool:
    """Whether a pending incident has support beyond its own alert family: another family
    of its nodes, or any series of a direct caller or callee, deviated the harmful way
    within ``span`` seconds of its onset, beyond its usual excursion (a routine move, one
    the series makes every day, corroborates nothing). Incidents holding anything but
    symptom alerts (saturation, outages, changes) need no support."""
    if any(kind != "symptom" for kind in state.member_kind.values()):
        return True
    # an alert on a call edge's series is about the deviation filed under the callee
    own = {filed_as(state.member_node[fp], alert_family(a)) for fp, a in state.members.items()}
    nodes = {state.member_node[fp] for fp in state.members}
    lo, hi = state.first_ts - span, state.last_ts + span
    for node in nodes:
        for dev in window.of(node, lo, hi):
            if dev.bad and not dev.routine and (node, dev.family) not in own:
                return True
    if graph is None:
        return False
    near: set[str] = set()
    for node in nodes:
        if node in graph:
            near.update(graph.callers(node))
            near.update(graph.callees(node))
    return any(d.bad and not d.routine and (n, d.family) not in own
               for n in sorted(near - nodes) for d in window.of(n, lo, hi))
