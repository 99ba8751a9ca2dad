"""Change events (a rollout, a config push) held as context until an incident they may
explain comes along: a change is an action, not a problem, so by default it opens no
incident of its own.

>>> from aiops.model import Alert
>>> held = HeldChanges()
>>> held.hold("fp1", "cart", Alert({"alertname": "Deploy", "service": "cart"}, {}, starts_at=90))
>>> [fp for fp, _, _ in held.take("cart", frozenset({"cart"}), 100.0, window=300, linger=60)]
['fp1']
>>> "fp1" in held
False
"""

from __future__ import annotations

from aiops.model import Alert


class HeldChanges:
    """Held change events by fingerprint (in arrival order), counted per node so that an
    alert with none near it costs one lookup per related node."""

    def __init__(self) -> None:
        self._changes: dict[str, tuple[str, Alert]] = {}  # fingerprint -> (node, alert)
        self._per_node: dict[str, int] = {}

    def __contains__(self, fp: object) -> bool:
        return fp in self._changes

    def update(self, fp: str, alert: Alert) -> None:
        """A held change's resolution or repeat replaces it in place."""
        self._changes[fp] = (self._changes[fp][0], alert)

    def hold(self, fp: str, node: str, alert: Alert) -> None:
        """Keep a change event as context (in place if held already: the order stays)."""
        old = self._changes.get(fp)
        if old is not None:
            self._uncount(old[0])
        self._changes[fp] = (node, alert)
        self._per_node[node] = self._per_node.get(node, 0) + 1

    def drop(self, fp: str) -> None:
        self._uncount(self._changes.pop(fp)[0])

    def take(self, own: str, depends_on: frozenset[str], onset: float, *, window: float,
             linger: float) -> list[tuple[str, str, Alert]]:
        """Take out the held changes that may explain an alert on ``own`` that began at
        ``onset``: on its own node when made within ``window`` before it, on a node it
        depends on within ``linger`` (the reach a change has inside an incident)."""
        counted = self._per_node
        if not counted or not any(n in counted for n in depends_on):
            return []
        out: list[tuple[str, str, Alert]] = []
        for fp, (node, change) in list(self._changes.items()):
            reach = window if node == own else linger
            if node in depends_on and onset - reach <= change.starts_at <= onset:
                self.drop(fp)
                out.append((fp, node, change))
        return out

    def expire(self, before: float) -> None:
        """Drop changes made before ``before`` that no incident took in time."""
        for fp in [f for f, (_, a) in self._changes.items() if a.starts_at < before]:
            self.drop(fp)

    def _uncount(self, node: str) -> None:
        left = self._per_node[node] - 1
        if left:
            self._per_node[node] = left
        else:
            del self._per_node[node]
