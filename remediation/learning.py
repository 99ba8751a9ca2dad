"""Which action works for which incident: a Beta posterior per (signature, action).

Each action's success probability for an incident signature starts at Beta(1, 1) (uniform)
and counts verified successes and failures. Choosing by Thompson sampling (draw from each
posterior, take the largest draw) explores untried actions early and settles on the best
one as evidence accumulates. When the best posterior mean is below the runbook's threshold
the remediator escalates to a human instead; an action that failed
``disable_after_failures`` times in a row while its posterior mean is below one half is
disabled for that signature until re-enabled through the API.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from aiops.model import Incident


@dataclass(frozen=True, slots=True)
class Posterior:
    alpha: float = 1.0
    beta: float = 1.0
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    disabled: bool = False

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def updated(self, success: bool, disable_after: int, disable_below: float = 0.5
                ) -> Posterior:
        """Count one outcome. A failure streak of ``disable_after`` disables the action only
        if its posterior mean is also below ``disable_below``: a streak is expected now and
        then from an action that usually works, and must not retire it."""
        if success:
            return replace(self, alpha=self.alpha + 1, successes=self.successes + 1,
                           consecutive_failures=0)
        streak = self.consecutive_failures + 1
        beta = self.beta + 1
        mean = self.alpha / (self.alpha + beta)
        return replace(self, beta=beta, failures=self.failures + 1,
                       consecutive_failures=streak, disabled=self.disabled or
                       (streak >= disable_after and mean < disable_below))


class PosteriorStore(Protocol):
    def get(self, signature: str, action: str) -> Posterior: ...

    def put(self, signature: str, action: str, posterior: Posterior) -> None: ...


class MemoryPosteriors:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Posterior] = {}

    def get(self, signature: str, action: str) -> Posterior:
        return self.data.get((signature, action), Posterior())

    def put(self, signature: str, action: str, posterior: Posterior) -> None:
        self.data[(signature, action)] = posterior


def incident_signature(incident: Incident) -> str:
    """What makes two incidents 'the same kind': the top root cause and the alert names.

    >>> from aiops.model import Alert, Incident, IncidentStatus, RootCause
    >>> a = Alert(labels={"alertname": "HighLatency", "service": "db"}, annotations={},
    ...           starts_at=0)
    >>> incident_signature(Incident(id="i", status=IncidentStatus.OPEN, title="t",
    ...     severity="critical", opened_at=0, updated_at=0, alerts=(a, a), services=("db",),
    ...     root_causes=(RootCause("db", 0.9),)))
    'db|HighLatency'
    """
    cause = incident.root_causes[0].service if incident.root_causes else "unknown"
    names = sorted({a.name for a in incident.alerts if a.name})
    return f"{cause}|{'+'.join(names)}"


@dataclass(frozen=True, slots=True)
class Choice:
    action: str | None
    escalate: bool
    reason: str
    draws: dict[str, float]


class ThompsonLearner:
    """Chooses among candidate actions and learns from verified outcomes.

    >>> learner = ThompsonLearner(MemoryPosteriors(), random.Random(0))
    >>> for _ in range(30):
    ...     _ = learner.record("sig", "good", True, disable_after=3)
    >>> learner.choose("sig", ["good", "untried"], escalate_below=0.2).action
    'good'
    """

    def __init__(self, store: PosteriorStore, rng: random.Random) -> None:
        self._store = store
        self._rng = rng

    def choose(self, signature: str, candidates: Sequence[str], *, escalate_below: float
               ) -> Choice:
        posteriors = {name: self._store.get(signature, name) for name in candidates}
        enabled = {n: p for n, p in posteriors.items() if not p.disabled}
        if not enabled:
            return Choice(None, True, "every candidate action is disabled for "
                          f"{signature}", {})
        best_mean = max(p.mean for p in enabled.values())
        if best_mean < escalate_below:
            return Choice(None, True, f"best expected success {best_mean:.2f} is below "
                          f"{escalate_below:.2f}", {})
        draws = {n: self._rng.betavariate(p.alpha, p.beta) for n, p in enabled.items()}
        chosen = max(draws, key=lambda n: draws[n])
        p = enabled[chosen]
        return Choice(chosen, False, f"Thompson draw {draws[chosen]:.2f} (posterior mean "
                      f"{p.mean:.2f} after {p.successes}/{p.successes + p.failures})", draws)

    def record(self, signature: str, action: str, success: bool, *, disable_after: int
               ) -> Posterior:
        updated = self._store.get(signature, action).updated(success, disable_after)
        self._store.put(signature, action, updated)
        return updated
