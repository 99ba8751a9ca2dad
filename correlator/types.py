"""The correlator's boundaries: what the pipeline calls, and what a ranking strategy sees.

A correlator is the single writer of incidents. It is driven entirely in event time (alert
timestamps and the ``now`` handed to :meth:`Correlator.tick`), never the wall clock, so a
replay of the same input gives the same incidents, ids and versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiops.model import Alert, Incident, IncidentCommand, RootCause
from aiops.model.deviation import Deviation

if TYPE_CHECKING:
    from correlator.config import Silence
    from topology.graph import ServiceGraph


@runtime_checkable
class Correlator(Protocol):
    r"""Folds alerts into incidents: the one contract the correlate stage, the evaluations
    and the benchmarks drive, and that every registered correlator
    (:func:`correlator.registry.builtin_correlators`) meets; the conformance suite
    (``tests/correlator/test_correlator_conformance.py``) checks each against it.

    Every method returns the incidents it created or changed, each as a new version
    (``version`` + 1 per published change, at least one more
    :class:`aiops.model.TimelineEntry` per version). Re-processing an alert already seen,
    also after a restart that :meth:`restore`\ d the incidents, changes nothing and returns
    ``[]``.
    """

    #: the topology grouping reads (``None``: time window only); swapped by :meth:`set_graph`
    graph: ServiceGraph | None

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Reload incidents from the store at start (open ones, and recently resolved ones
        if reopening should survive a restart)."""

    def process(self, alert: Alert) -> list[Incident]:
        """Fold one alert in; return incidents created or changed by it."""

    def process_batch(self, alerts: Iterable[Alert]) -> list[Incident]:
        """Fold many alerts in, one new version per changed incident; the same final state
        as :meth:`process` per alert."""

    def observe(self, deviations: Iterable[Deviation]) -> None:
        """Take in deviation summaries; they change no incident by themselves (a correlator
        that ranks on alerts alone ignores them)."""

    def apply(self, command: IncidentCommand) -> list[Incident]:
        """Acknowledge or resolve an incident on a person's request."""

    def tick(self, now: float) -> list[Incident]:
        """Event-time housekeeping: auto-resolve after a quiet period, forget old state."""

    def add_silence(self, silence: Silence) -> None:
        """Start (or replace, by ``id``) a silence: matching new alerts are dropped."""

    def remove_silence(self, silence_id: str) -> bool:
        """Expire a silence early; ``False`` if none has that id."""

    def set_graph(self, graph: ServiceGraph) -> None:
        """Swap in a new topology; incidents held keep their members."""

    def forget_all(self) -> None:
        """Drop every incident and alert held (configuration and silences stay), so that
        the owner can reload them from its store with :meth:`restore`."""

    def open_incidents(self) -> list[Incident]:
        """The incidents not resolved, as their current versions."""


@dataclass(slots=True)
class NodeEvidence:
    """What the alerts of one incident say about one graph node.

    ``onset`` is the earliest ``startsAt`` of its alerts, ``score`` the largest anomaly
    score, ``kinds`` the alert classes seen (``resource``, ``symptom``, ``change``,
    ``availability``), ``alerts`` the alert names, ``summary`` one human sentence from the
    strongest alert's annotations when it had one. ``firing`` and ``last_change`` track
    whether the node still has a live problem, which is what new alerts may attach to;
    change events (a rollout) count as instants, not as conditions that stay firing.
    ``deviations`` are the node's series that were far from their recent normal around the
    incident (one per family, strongest first), filled in by the diagnosis step
    (:mod:`correlator.diagnosis`) for alerting and quiet nodes alike.
    """

    node: str
    onset: float
    score: float
    count: int = 1
    kinds: set[str] = field(default_factory=set)
    alerts: set[str] = field(default_factory=set)
    summary: str = ""
    inhibited: bool = False
    firing: int = 0
    last_change: float = 0.0
    last_onset: float = 0.0
    deviations: tuple[Deviation, ...] = ()

    def __copy__(self) -> NodeEvidence:
        """A shallow copy (the sets and the deviations are shared, as with
        :func:`copy.copy`), built directly: diagnosis copies every member's evidence of an
        incident per ranking, and the generic slot-by-slot copy cost five times as much."""
        return NodeEvidence(self.node, self.onset, self.score, self.count, self.kinds,
                            self.alerts, self.summary, self.inhibited, self.firing,
                            self.last_change, self.last_onset, self.deviations)

    def live(self, ts: float, linger: float) -> bool:
        """Still part of an ongoing problem at ``ts``: a condition alert firing, or the last
        change (onset, resolution, or a change event) within ``linger`` seconds."""
        return self.firing > 0 or ts - self.last_change <= linger


@runtime_checkable
class RankingStrategy(Protocol):
    """Ranks the nodes of one incident as root-cause candidates, best first.

    ``evidence`` maps node name to what its alerts showed; ``graph`` may be ``None`` (no
    topology configured) and then only the alerts themselves can be used. Implementations
    must be deterministic: the same input gives the same ranking, ties broken by name.
    """

    name: str

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]: ...
