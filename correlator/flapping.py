"""Flap detection: an alert that changes state ``threshold`` times within ``window`` seconds
of event time is flapping, and its further changes stop adding timeline entries or new
versions of an incident that is open anyway.

>>> f = FlapDetector()
>>> [f.record("fp", t, window=100.0, threshold=3) for t in (0.0, 10.0, 20.0, 30.0, 500.0)]
[None, None, 'new', 'yes', None]
"""

from __future__ import annotations

from collections import deque


class FlapDetector:
    """Recent state changes per alert fingerprint, and which alerts flap now."""

    def __init__(self) -> None:
        self._history: dict[str, deque[float]] = {}
        self._flapping: set[str] = set()

    def record(self, fp: str, ts: float, window: float, threshold: int) -> str | None:
        """Record a state change; ``"new"`` when the alert just started flapping, ``"yes"``
        while it goes on, ``None`` when it does not flap."""
        history = self._history.setdefault(fp, deque())
        history.append(ts)
        horizon = ts - window
        while history and history[0] < horizon:
            history.popleft()
        if len(history) >= threshold:
            if fp not in self._flapping:
                self._flapping.add(fp)
                return "new"
            return "yes"
        self._flapping.discard(fp)
        return None

    def forget(self, fp: str) -> None:
        """Drop an alert's history (its incident is gone for good)."""
        self._history.pop(fp, None)
        self._flapping.discard(fp)
