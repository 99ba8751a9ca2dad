"""The domain model: plain frozen dataclasses that every package shares.

Times are float seconds since the Unix epoch (event time), which keeps detectors and the
correlator numpy-friendly; the codecs turn them into RFC 3339 strings on the wire where the
peer expects that (Alertmanager, the incident feed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from aiops.model.fingerprint import alert_fingerprint


class Severity(StrEnum):
    """Alert and incident severity, ordered by :data:`SEVERITY_RANK`."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY_RANK: dict[str, int] = {"critical": 3, "error": 3, "warning": 2, "info": 1, "none": 0}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class IncidentStatus(StrEnum):
    #: held back: one alert so far, not yet shown to outlast a transient blip; never
    #: notified, and dropped (resolved without ever being raised) if it clears in time
    PENDING = "pending"
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


_RAISED = frozenset((IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED))


class ActionStatus(StrEnum):
    PLANNED = "planned"
    DRY_RUN = "dry_run"
    PENDING_APPROVAL = "pending_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"


def series_key(name: str, labels: Mapping[str, str]) -> str:
    """Prometheus-style identity of a series: ``name{a="1",b="2"}`` with sorted labels.

    >>> series_key("cpu", {"service": "cart", "host": "h1"})
    'cpu{host="h1",service="cart"}'
    """
    if not labels:
        return name
    return _series_key_cached(name, tuple(labels.items()))


@lru_cache(maxsize=1 << 18)
def _series_key_cached(name: str, items: tuple[tuple[str, str], ...]) -> str:
    # Keyed on the labels in their given order: the same producer sends the same order, so
    # the hot path skips the sort and the string building; the result is order-free.
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(items))
    return f"{name}{{{inner}}}"


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One sample of one series."""

    name: str
    labels: Mapping[str, str]
    ts: float
    value: float

    @property
    def key(self) -> str:
        return series_key(self.name, self.labels)

    @property
    def service(self) -> str:
        return service_of(self.labels)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line, after the shipper's remap to our field names."""

    ts: float
    service: str
    level: str
    message: str
    labels: Mapping[str, str] = field(default_factory=dict)


def service_of(labels: Mapping[str, str]) -> str:
    """The service a label set belongs to: ``service``, else ``job``, else ``app``."""
    return labels.get("service") or labels.get("job") or labels.get("app") or "unknown"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert in Alertmanager's shape, identified by Alertmanager's fingerprint."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None = None
    generator_url: str = ""
    status: AlertStatus = AlertStatus.FIRING
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", alert_fingerprint(self.labels))

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def service(self) -> str:
        return service_of(self.labels)

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")

    @property
    def firing(self) -> bool:
        return self.status == AlertStatus.FIRING

    @property
    def score(self) -> float:
        """The anomaly score a detector attached (annotation ``score``), else by severity."""
        raw = self.annotations.get("score")
        if raw is not None:
            try:
                return float(raw)
            except ValueError:
                pass
        return SEVERITY_RANK.get(self.severity, 1) / 3.0


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A detector's verdict that one point of one series is abnormal."""

    series: str
    name: str
    labels: Mapping[str, str]
    ts: float
    value: float
    score: float
    expected_low: float
    expected_high: float
    detector: str

    @property
    def service(self) -> str:
        return service_of(self.labels)


@dataclass(frozen=True, slots=True)
class RootCause:
    """A ranked root-cause candidate with the evidence that put it there."""

    service: str
    score: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One change in an incident's life: who did what, when, and why."""

    ts: float
    event: str
    status: IncidentStatus
    actor: str = "engine"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    """A group of alerts believed to share one cause.

    ``version`` increases with every change, so consumers of the incident feed can drop
    redelivered or out-of-date messages by ``(id, version)``.

    ``alerts`` are the member alerts (problems); ``changes`` are change events (rollouts,
    config pushes) on the incident's nodes shortly before its alerts began. A change is
    context and a candidate cause, not a problem of its own, so it is kept apart.
    """

    id: str
    status: IncidentStatus
    title: str
    severity: str
    opened_at: float
    updated_at: float
    alerts: tuple[Alert, ...]
    services: tuple[str, ...]
    root_causes: tuple[RootCause, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    resolved_at: float | None = None
    version: int = 1
    changes: tuple[Alert, ...] = ()

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(a.fingerprint for a in self.alerts)

    @property
    def raised(self) -> bool:
        """Whether this incident was ever shown to people (open or acknowledged at some
        point); a pending incident dropped as transient, or merged before it was confirmed,
        never was, and nothing downstream should notify about it."""
        if self.status in _RAISED:
            return True
        if self.status == IncidentStatus.PENDING:
            return False
        held = False  # resolved: unraised only if known to have been held and never shown
        for entry in self.timeline:
            if entry.status in _RAISED:
                return True
            held = held or entry.status == IncidentStatus.PENDING
        return not held


@dataclass(frozen=True, slots=True)
class RemediationAction:
    """A remediation decision for an incident, including refusals and dry runs."""

    id: str
    incident_id: str
    runbook: str
    kind: str
    target: str
    params: Mapping[str, object]
    status: ActionStatus
    dry_run: bool
    reason: str
    ts: float


class CommandKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class IncidentCommand:
    """A person's request to change an incident, applied by the correlator that owns it.

    The correlator is the single writer of incidents; the API turns acknowledge/resolve
    calls into commands on the correlator's input topic so that ordering with the alerts
    of the same incident is kept and no two processes race on one incident.
    """

    incident_id: str
    kind: CommandKind
    ts: float
    actor: str = "api"
    note: str = ""
