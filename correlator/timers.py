"""The lifecycle timers, in event time: when a quiet incident auto-resolves and when a
pending one is judged. Heaps of ``(due, incident id)``; an entry whose incident changed
since is skipped (or pushed back) by whoever pops it, so nothing is ever searched.

>>> q = QuietTimers()
>>> q.mark("b", 20.0); q.mark("a", 10.0); q.mark("a", 99.0)  # marked once until discarded
>>> list(q.due(15.0)), "a" in q
(['a'], True)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class QuietTimers:
    """Incidents with no alert firing, due to auto-resolve once the quiet period ends."""

    def __init__(self) -> None:
        self._quiet: set[str] = set()
        self._due: list[tuple[float, str]] = []

    def __contains__(self, ident: object) -> bool:
        return ident in self._quiet

    def mark(self, ident: str, due: float) -> None:
        """Start the incident's quiet period (a no-op while it is already quiet)."""
        if ident not in self._quiet:
            self._quiet.add(ident)
            heapq.heappush(self._due, (due, ident))

    def push(self, ident: str, due: float) -> None:
        """Put a popped entry back with a later due time (an alert resolved again since)."""
        heapq.heappush(self._due, (due, ident))

    def discard(self, ident: str) -> None:
        """The incident is no longer quiet (an alert fires, or it resolved)."""
        self._quiet.discard(ident)

    def due(self, now: float) -> Iterator[str]:
        """Pop and yield the ids whose time is up at ``now``, earliest first."""
        heap = self._due
        while heap and heap[0][0] <= now:
            yield heapq.heappop(heap)[1]


class PendingTimers:
    """Pending incidents, due to be raised or dropped when their hold ends."""

    def __init__(self) -> None:
        self._due: list[tuple[float, str]] = []

    def push(self, ident: str, due: float) -> None:
        heapq.heappush(self._due, (due, ident))

    def due(self, now: float) -> Iterator[tuple[float, str]]:
        """Pop and yield ``(due, id)`` whose time is up at ``now``, earliest first."""
        heap = self._due
        while heap and heap[0][0] <= now:
            yield heapq.heappop(heap)
