"""Alert classes (``resource``, ``symptom``, ``availability``, ``change``) as grouping uses
them, remembered per kind of alert: a storm repeats a few dozen alert names thousands of
times, and classifying reads regexes over the name.

>>> from aiops.model import Alert
>>> from correlator.config import DEFAULT_KIND_WORDS
>>> kinds = AlertKinds()
>>> a = Alert({"alertname": "MetricAnomaly", "metric": "cpu_usage"}, {}, starts_at=0)
>>> kinds.of(a, DEFAULT_KIND_WORDS), effects_allowed("change"), effects_allowed("symptom")
('resource', 'none', 'all')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiops.model import Alert
from correlator.config import classify_alert

#: alert classes that name a cause more than an effect (see ``grouping.find_candidates``)
CAUSE_KINDS = frozenset(("resource", "availability"))


class AlertKinds:
    """:func:`correlator.config.classify_alert`, remembered per alert name, metric and
    ``kind`` label; forgotten when the words change (a new configuration) or it grows."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str | None, str | None], str] = {}
        self._words: object = None

    def of(self, alert: Alert, words: Mapping[str, Sequence[str]]) -> str:
        labels = alert.labels
        key = (labels.get("alertname", ""), labels.get("metric"), labels.get("kind"))
        kind = self._kinds.get(key)
        if kind is None:
            if self._words is not words or len(self._kinds) > 4096:
                self._kinds.clear()
                self._words = words
            kind = classify_alert(kind_text(alert), words, key[2])
            self._kinds[key] = kind
        return kind


def effects_allowed(kind: str) -> str:
    """Which neighbours' problems an alert of ``kind`` may be an effect of: a change event
    (an action) of none, saturation and outages only of what their node is made of or runs
    on (``structural``), symptoms of ``all`` (see ``grouping.find_candidates``)."""
    if kind == "change":
        return "none"
    return "all" if kind not in CAUSE_KINDS else "structural"


def kind_text(alert: Alert) -> str:
    """What an alert's class is read from: its name, and the metric it is about when a
    generic detector alert (``MetricAnomaly{metric="cpu"}``) names it only in a label."""
    metric = alert.labels.get("metric")
    return f"{alert.name} {metric}" if metric else alert.name
