"""The simplest safe remediator: plan a restart of the top root cause, never execute it.

It decides once per incident (the first time the incident is seen open with a root cause)
and derives the action id from the incident id, so redelivered incidents are idempotent.
"""

from __future__ import annotations

from aiops.model import ActionStatus, Incident, IncidentStatus, RemediationAction


class DryRunRemediator:
    """Plans ``restart <root cause>`` in dry-run for each new incident.

    >>> from aiops.model import Incident, IncidentStatus, RootCause
    >>> inc = Incident(id="inc-1", status=IncidentStatus.OPEN, title="t", severity="critical",
    ...                opened_at=0.0, updated_at=0.0, alerts=(), services=("cart",),
    ...                root_causes=(RootCause("cart", 0.9),))
    >>> [(a.kind, a.target, a.status.value) for a in DryRunRemediator().handle(inc)]
    [('restart', 'cart', 'dry_run')]
    """

    def __init__(self, *, min_score: float = 0.0) -> None:
        self._min_score = min_score
        self._decided: set[str] = set()

    def handle(self, incident: Incident) -> list[RemediationAction]:
        if incident.status != IncidentStatus.OPEN or incident.id in self._decided:
            return []
        if not incident.root_causes or incident.root_causes[0].score < self._min_score:
            return []
        self._decided.add(incident.id)
        cause = incident.root_causes[0]
        return [
            RemediationAction(
                id=f"{incident.id}:restart:{cause.service}",
                incident_id=incident.id,
                runbook="default-restart",
                kind="restart",
                target=cause.service,
                params={},
                status=ActionStatus.DRY_RUN,
                dry_run=True,
                reason=f"dry-run: would restart {cause.service} (root-cause score "
                f"{cause.score:.2f})",
                ts=incident.updated_at,
            )
        ]

    def tick(self, now: float) -> list[RemediationAction]:
        """Nothing waits on time: a dry run has no verification window."""
        return []
