"""Metric samples in, Alertmanager-shaped alerts out: a detector plus an alert policy.

This is the detect stage's boundary. :class:`MetricAlerter` scores and learns every sample
in event order (one vectorised detector call per batch), runs the alert policy only on the
few points that matter (scores at or above the clear threshold, or series already pending or
firing), and returns the alerts that start firing and the resolves of those that calmed
down. A resolve carries exactly the labels of its firing alert, so it has the same
Alertmanager fingerprint.

>>> from aiops.model import MetricSample
>>> from detectors.zscore import RollingZScore
>>> alerter = MetricAlerter(RollingZScore(warmup=10), AlertPolicy(for_count=1, resolve_count=1))
>>> calm = [MetricSample("latency", {"service": "cart"}, float(t), 1.0 + 0.01 * (t % 3))
...         for t in range(50)]
>>> alerter.process(calm)
[]
>>> [a.status.value for a in alerter.process([MetricSample("latency", {"service": "cart"},
...                                                       50.0, 9.0)])]
['firing']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiops.model import Alert, AlertStatus, MetricSample, Severity, service_of
from aiops.model.columns import MetricColumns
from detectors.base import Detector, SnapshotError, rounds_of
from detectors.catalog import signal
from detectors.policy import AlertPolicy, PolicyTracker


@dataclass(frozen=True, slots=True)
class _Firing:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    low: float = math.nan  # the expected range held from before the fault
    high: float = math.nan


def _fmt(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{x:.6g}"


class MetricAlerter:
    """Turns metric samples into firing and resolved alerts, keyed by series.

    ``alerts_on`` says which series (by name) may raise an alert at all; the others are not
    scored. By default the signals of :func:`detectors.catalog.signal` (an exporter's
    bookkeeping of the kernel's or its runtime's own work is context, not a reason to
    alert); ``None`` scores every series.
    """

    def __init__(self, detector: Detector, policy: AlertPolicy, *,
                 alertname: str = "MetricAnomaly", detector_name: str = "",
                 generator_url: str = "",
                 alerts_on: Callable[[str], bool] | None = signal) -> None:
        self.detector = detector
        self.alerts_on = alerts_on
        self.policy = policy
        self.alertname = alertname
        self.detector_name = detector_name or getattr(detector, "name", type(detector).__name__)
        self.generator_url = generator_url
        self._tracker = PolicyTracker(policy)
        self._firing: dict[Hashable, _Firing] = {}
        self._escalated: dict[Hashable, list[_Firing]] = {}
        self._seen: dict[Hashable, float] = {}  # newest point of each firing series

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now (as last emitted), escalations included."""
        fires = list(self._firing.values())
        for more in self._escalated.values():
            fires.extend(more)
        return [self._alert(f) for f in fires]

    def process(self, samples: Sequence[MetricSample]) -> list[Alert]:
        """Score and learn every sample (event time); return alerts that start firing
        and the matching resolved alerts when a series is back to normal."""
        if not samples:
            return []
        return self.process_columns(MetricColumns.from_samples(samples))

    def process_columns(self, batch: MetricColumns) -> list[Alert]:
        """:meth:`process` on a columnar batch: no per-point objects on the hot path.

        The batch's ``resolution`` and ``counting`` (set by the metric semantics) tell the
        policy each signal's measurement noise. Points of series whose alert is firing are
        scored against the state held from before the fault and not learnt (a lasting
        fault must not become the baseline); every other point is scored and learnt in
        one vectorised detector call. A batch holding several points of a series is taken
        in rounds (each series' r-th point in round r), so a series stops learning at the
        very point it starts firing, however the input happened to be batched (replays
        and restarts give the same alerts).
        """
        batch = self._signals(batch)
        n = len(batch)
        if n == 0:
            return []
        if len(set(batch.keys)) == n:  # the usual batch: one point per series
            return self._process_round(batch)
        ids: dict[str, int] = {}
        slots = np.fromiter(map(ids.setdefault, batch.keys, range(n)), dtype=np.int64,
                            count=n)
        out: list[Alert] = []
        for pos in rounds_of(slots):
            keys = batch.keys
            out.extend(self._process_round(MetricColumns(
                batch.names, batch.labels, [keys[i] for i in pos.tolist()],
                batch.series[pos], batch.ts[pos], batch.values[pos],
                resolution=batch.resolution, counting=batch.counting)))
        return out

    def _signals(self, batch: MetricColumns) -> MetricColumns:
        """The points of ``batch`` on series that may raise an alert."""
        if self.alerts_on is None or len(batch) == 0:
            return batch
        if all(map(self.alerts_on, set(batch.names))):  # names repeat: a set is cheaper
            return batch
        wanted = np.fromiter(map(self.alerts_on, batch.names), dtype=bool,
                             count=len(batch.names))
        pos = np.flatnonzero(wanted[batch.series])
        keys = batch.keys
        return MetricColumns(batch.names, batch.labels, [keys[i] for i in pos.tolist()],
                             batch.series[pos], batch.ts[pos], batch.values[pos],
                             resolution=batch.resolution, counting=batch.counting)

    def _process_round(self, batch: MetricColumns) -> list[Alert]:
        """Points of distinct series."""
        n = len(batch)
        keys = batch.keys
        ts = batch.ts
        score = np.zeros(n)
        low = np.full(n, np.nan)
        high = np.full(n, np.nan)
        firing = self._firing
        held = (np.fromiter(map(firing.__contains__, keys), dtype=bool, count=n)
                if firing else np.zeros(n, dtype=bool))
        if held.any():
            free = np.flatnonzero(~held)
            if free.size:
                part = self.detector.assess_many([keys[i] for i in free.tolist()], ts[free],
                                                 batch.values[free])
                score[free], low[free], high[free] = part.score, part.low, part.high
            for i in np.flatnonzero(held).tolist():
                key = keys[i]
                fire = firing[key]
                score[i] = self.detector.score_one(key, float(ts[i]), float(batch.values[i]))
                low[i], high[i] = fire.low, fire.high
                self._seen[key] = max(self._seen.get(key, -math.inf), float(ts[i]))
        else:
            result = self.detector.assess_many(keys, ts, batch.values)
            score, low, high = result.score, result.low, result.high
        hot = score >= self.policy.clear_threshold
        tracker = self._tracker
        # every point of a series that is tracked or becomes hot in this batch is stepped,
        # so that a pending run is broken by the low points that follow it
        watch = set(tracker.tracked)
        watch.update(keys[i] for i in np.flatnonzero(hot).tolist())
        if watch:
            hot = np.fromiter(map(watch.__contains__, keys), dtype=bool, count=len(keys))
        out: list[Alert] = []
        quantum, counting = batch.resolution, batch.counting
        for i in np.flatnonzero(hot).tolist():
            key = keys[i]
            s = int(batch.series[i])
            change = tracker.step(
                key, float(ts[i]), float(score[i]), float(batch.values[i]), float(low[i]),
                float(high[i]), float(quantum[s]) if quantum is not None else math.nan,
                bool(counting[s]) if counting is not None else False)
            if change == "fire":
                st = tracker.state(key)
                peak = st.peak if st is not None else float(score[i])
                fire = self._fire(batch.sample(i), peak,
                                  st.low if st is not None else float(low[i]),
                                  st.high if st is not None else float(high[i]),
                                  st.fired_at if st is not None else float(ts[i]))
                firing[key] = fire
                self._seen[key] = float(ts[i])
                out.append(self._alert(fire))
            elif change == "escalate":
                st = tracker.state(key)
                base = firing.get(key)
                if base is not None and st is not None:
                    esc = self._fire(batch.sample(i), st.peak, base.low, base.high,
                                     float(ts[i]), escalation=st.escalations)
                    self._escalated.setdefault(key, []).append(esc)
                    out.append(self._alert(esc))
            elif change in ("resolve", "accept"):
                out.extend(self._end(key, float(ts[i]),
                                     "accepted after "
                                     f"{self.policy.accept_after_seconds:.0f}s"
                                     if change == "accept" else ""))
        return out

    def _alert(self, fire: _Firing, ends_at: float | None = None, note: str = "") -> Alert:
        if ends_at is None:
            return Alert(labels=fire.labels, annotations=fire.annotations,
                         starts_at=fire.starts_at, generator_url=self.generator_url)
        annotations = dict(fire.annotations)
        if note:
            annotations["resolution"] = note
        return Alert(labels=fire.labels, annotations=annotations, starts_at=fire.starts_at,
                     ends_at=ends_at, status=AlertStatus.RESOLVED,
                     generator_url=self.generator_url)

    def _end(self, key: Hashable, ts: float, note: str = "") -> list[Alert]:
        """Resolve a series' alert and its escalations; an accepted level is relearnt."""
        out: list[Alert] = []
        fire = self._firing.pop(key, None)
        self._seen.pop(key, None)
        if fire is not None:
            out.append(self._alert(fire, ts, note))
        out.extend(self._alert(esc, ts, note) for esc in self._escalated.pop(key, []))
        if note:  # the new level is normal now: learn the series afresh from here
            self.detector.forget([key])
        return out

    def accept(self, match: Callable[[Mapping[str, str]], bool], ts: float,
               note: str = "accepted") -> list[Alert]:
        """A person accepts the current level of every firing series whose alert labels
        ``match``: their alerts resolve and the detector learns those series afresh."""
        out: list[Alert] = []
        for key, fire in list(self._firing.items()):
            if match(fire.labels):
                self._tracker.accept(key)
                out.extend(self._end(key, max(ts, fire.starts_at), note))
        return out

    def relearn(self, keys: Sequence[Hashable]) -> None:
        """Learn these series afresh (their target restarted or was away); a series whose
        alert fires keeps its state, so the alert is still judged against its baseline."""
        fresh = [k for k in keys if k not in self._firing]
        for key in fresh:
            self._tracker.forget(key)
        if fresh:
            self.detector.forget(fresh)

    def expire(self, now: float, idle_seconds: float) -> list[Alert]:
        """Forget series silent since ``now - idle_seconds`` and resolve their alerts.

        Series come and go (pods are replaced, routes retired); without this their state
        would stay forever and an alert on a series that vanished would never resolve.
        Detectors without per-series timestamps keep their state; alerts still resolve.
        A firing series is not learnt, so its last point is what this alerter saw.
        """
        cutoff = now - idle_seconds
        idle_keys = getattr(self.detector, "idle_keys", None)
        stale = idle_keys(cutoff) if idle_keys is not None else []
        stale = [k for k in stale if self._seen.get(k, -math.inf) < cutoff]
        stale.extend(k for k, t in self._seen.items() if t < cutoff and k not in stale)
        out: list[Alert] = []
        for key in stale:
            fire = self._firing.pop(key, None)
            self._seen.pop(key, None)
            if fire is not None:
                out.append(self._alert(fire, now))
            out.extend(self._alert(esc, now) for esc in self._escalated.pop(key, []))
            self._tracker.forget(key)
        if stale:
            self.detector.forget(stale)
        return out

    # ------------------------------------------------------------------ checkpoints

    def export_state(self) -> dict[str, Any]:
        """Everything this alerter learnt, as picklable data: the detector's own snapshot
        (its public contract, whatever detector it is) and the policy's per-series state."""
        return {"version": 1, "detector": self.detector.snapshot(),
                "policy": dict(self._tracker.tracked), "firing": dict(self._firing),
                "escalated": {k: list(v) for k, v in self._escalated.items()},
                "seen": dict(self._seen)}

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`export_state`; raises :class:`SnapshotError` for another detector
        or version (the caller then starts afresh)."""
        if state.get("version") != 1:
            raise SnapshotError(f"alerter state v{state.get('version')}",
                                detector=self.detector_name)
        self.detector.restore(state["detector"])
        self._tracker.load(state["policy"])
        self._firing = dict(state["firing"])
        self._escalated = {k: list(v) for k, v in state["escalated"].items()}
        self._seen = dict(state["seen"])

    def _fire(self, sample: MetricSample, score: float, low: float, high: float,
              starts_at: float, escalation: int = 0) -> _Firing:
        service = service_of(sample.labels)
        severity = (Severity.CRITICAL if score >= self.policy.critical_threshold or escalation
                    else Severity.WARNING)
        labels = dict(sample.labels)
        labels.update({"alertname": self.alertname, "metric": sample.name,
                       "service": service, "severity": severity.value})
        if escalation:
            labels["escalation"] = str(escalation)
        where = f"{low:.4g} .. {high:.4g}" if not math.isnan(low) else "unknown"
        what = "grew further" if escalation else "is anomalous"
        annotations = {
            "summary": f"{sample.name} on {service} {what}",
            "description": (f"{sample.name} on {service} is {sample.value:.4g}, expected "
                            f"{where} (anomaly score {score:.4f}, {self.detector_name})"),
            "value": _fmt(sample.value),
            "expected_low": _fmt(low),
            "expected_high": _fmt(high),
            "score": f"{score:.6f}",
            "metric": sample.name,
            "detector": self.detector_name,
        }
        return _Firing(labels=labels, annotations=annotations, starts_at=starts_at,
                       low=low, high=high)

