"""Root-cause evaluation on recorded telemetry, online, through the engine's own parts.

Per case: the scenario's fault-free metrics warm the metric alerter and the deviation tracker
up (once per scenario; each case continues a copy), the case is moved in time to follow them
by one interval; then the case's metrics stream in, one batch
per timestamp, exactly as the detect stage would see them, and its alerts and deviation
summaries go to the correlator, whose timers tick in event time between batches. Nobody tells
the engine when the fault starts.

The case's incident is the raised incident that holds alerts begun in the case's window,
preferring one with an alert on the node where the fault was seen (the truth's ``target``,
PetShop's SLO violation at its front end: the incident a responder would open), then the
one holding most of them, then the earliest opened; its ranking when the data ends is scored against
the truth (AC@k, Avg@5). Time to incident is from ``inject_ts`` (when the fault was seen) to
the first raised version holding one of those alerts. False incidents per hour are counted
over each scenario's fault-free data after a warm-up (the same run that warms up).
"""

from __future__ import annotations

import copy
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.model import Alert, Incident, MetricSample
from aiops.model.columns import MetricColumns
from aiops.sim.recorded import RecordedCase, RecordedScenario, metric_rows, step_of
from correlator.engine import TopologyCorrelator
from detectors.alerting import MetricAlerter
from detectors.deviation import DeviationTracker
from topology.graph import ServiceGraph

Row = tuple[float, str, dict[str, str], float]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What one engine variant is made of, built fresh for every run."""

    alerter: Callable[[], MetricAlerter]
    correlator: Callable[[ServiceGraph], TopologyCorrelator]
    tracker: Callable[[], DeviationTracker] | None = None


@dataclass(slots=True)
class CaseResult:
    case: RecordedCase
    rank: int | None
    detected: bool
    tti: float | None
    top: list[str]
    incidents: int


@dataclass(slots=True)
class RecordedReport:
    cases: list[CaseResult] = field(default_factory=list)
    false_incidents: dict[str, tuple[int, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        groups: dict[str, list[CaseResult]] = defaultdict(list)
        for r in self.cases:
            groups[f"{r.case.scenario}/{r.case.split}"].append(r)
            groups[r.case.split].append(r)
            groups["all"].append(r)
        out: dict[str, Any] = {k: _scores(v) for k, v in sorted(groups.items())}
        incidents = sum(n for n, _ in self.false_incidents.values())
        hours = sum(h for _, h in self.false_incidents.values())
        out["fault_free"] = {
            **{k: {"incidents": n, "hours": round(h, 1)}
               for k, (n, h) in sorted(self.false_incidents.items())},
            "incidents_per_hour": round(incidents / hours, 3) if hours else None}
        out["misses"] = [f"{r.case.name} {r.case.fault}: truth {r.case.root}, got "
                         f"{r.top[:3] if r.detected else 'no incident'}"
                         for r in self.cases if r.rank != 1]
        return out


def _scores(results: Sequence[CaseResult]) -> dict[str, Any]:
    n = max(1, len(results))

    def ac(k: int) -> float:
        return sum(1 for r in results if r.rank is not None and r.rank <= k) / n

    tti = sorted(r.tti for r in results if r.tti is not None)
    return {"cases": len(results), "AC@1": round(ac(1), 3), "AC@3": round(ac(3), 3),
            "AC@5": round(ac(5), 3), "Avg@5": round(sum(ac(k) for k in range(1, 6)) / 5, 3),
            "detected": round(sum(1 for r in results if r.detected) / n, 3),
            "tti_median_s": round(statistics.median(tti), 0) if tti else None}


def _batches(rows: Iterable[Row]) -> list[tuple[float, list[Row]]]:
    by_ts: dict[float, list[Row]] = defaultdict(list)
    for row in rows:
        by_ts[row[0]].append(row)
    return sorted(by_ts.items())


class _Run:
    """One pipeline instance fed batch by batch, recording what the correlator published."""

    def __init__(self, pipe: Pipeline, graph: ServiceGraph, tick_every: float) -> None:
        self.alerter = pipe.alerter()
        self.tracker = pipe.tracker() if pipe.tracker is not None else None
        self.correlator = pipe.correlator(graph)
        self.tick_every = tick_every
        self.latest: dict[str, Incident] = {}
        self.first_raised: dict[str, float] = {}
        self.clock: float | None = None

    def node_of(self, alert: Alert) -> str:
        return self.correlator.mapper.node_for(alert.labels)

    def _take(self, incidents: Iterable[Incident], ts: float) -> None:
        for inc in incidents:
            self.latest[inc.id] = inc
            if inc.raised and inc.id not in self.first_raised:
                self.first_raised[inc.id] = ts

    def advance(self, ts: float) -> None:
        if self.clock is not None:
            t = self.clock + self.tick_every
            while t < ts:
                self._take(self.correlator.tick(t), t)
                t += self.tick_every
        self.clock = ts

    def feed(self, ts: float, rows: Sequence[Row]) -> list[Alert]:
        self.advance(ts)
        cols = MetricColumns.from_samples([MetricSample(n, lab, t, v) for t, n, lab, v in rows])
        alerts = self.alerter.process_columns(cols)
        if self.tracker is not None:
            self.correlator.observe(self.tracker.process_columns(cols))
        for alert in alerts:
            self._take(self.correlator.process(alert), ts)
        self._take(self.correlator.tick(ts), ts)
        return alerts


def warm_up(normal: Sequence[Row], pipe: Pipeline, graph: ServiceGraph) -> _Run:
    """A pipeline that has seen the scenario's fault-free data, in its own time."""
    run = _Run(pipe, graph, tick_every=min(60.0, step_of(list(normal))))
    for ts, rows in _batches(normal):
        run.feed(ts, rows)
    return run


def run_case(case: RecordedCase, warm: _Run, normal_end: float, step: float) -> CaseResult:
    """Continue a copy of the warmed pipeline with the case, moved in time to start one
    interval after the fault-free data ends.

    The README's recipe shifts the fault-free data to end just before the case; moving the
    case instead keeps every time difference the same (the engine runs in event time), and
    lets one warm-up serve every case of a scenario.
    """
    shift = normal_end + step - case.window_start
    run = copy.deepcopy(warm)
    case_alerts: set[str] = set()
    rows = [(t + shift, n, lab, v) for t, n, lab, v in metric_rows(case.metrics_path)]
    for ts, batch in _batches(rows):
        for alert in run.feed(ts, batch):
            if alert.firing and alert.starts_at >= case.window_start + shift:
                case_alerts.add(alert.fingerprint)
    run.advance(case.window_end + shift + step)  # the case's last interval ends
    holding: Counter[str] = Counter()
    on_target: set[str] = set()
    for inc in run.latest.values():
        if not inc.raised:
            continue
        held = [a for a in inc.alerts if a.fingerprint in case_alerts]
        if held:
            holding[inc.id] = len(held)
            if case.target and any(run.node_of(a) == case.target for a in held):
                on_target.add(inc.id)
    if not holding:
        return CaseResult(case, None, False, None, [], 0)
    best = min(holding, key=lambda i: (i not in on_target, -holding[i],
                                       run.latest[i].opened_at, i))
    inc = run.latest[best]
    top = [rc.service for rc in inc.root_causes]
    rank = next((i for i, s in enumerate(top, 1) if s == case.root), None)
    return CaseResult(case, rank, True, run.first_raised[best] - (case.inject_ts + shift),
                      top, len(holding))


def false_incidents(warm: _Run, start: float, end: float, warmup: float
                    ) -> tuple[int, float]:
    """Raised incidents the warm-up opened after its first ``warmup`` seconds, and the hours
    they were counted over: the fault-free data is the false-alarm test."""
    count = sum(1 for i in warm.latest.values()
                if i.raised and i.opened_at >= start + warmup)
    return count, max(0.0, end - start - warmup) / 3600.0


def evaluate_recorded(scenarios: Sequence[RecordedScenario], pipes: dict[str, Pipeline],
                      splits: Sequence[str] = (), warmup: float = 12 * 3600.0,
                      progress: Callable[[str, CaseResult], None] | None = None
                      ) -> dict[str, RecordedReport]:
    reports = {name: RecordedReport() for name in pipes}
    for sc in scenarios:
        graph = ServiceGraph.from_edges(sc.edges)
        normal = metric_rows(sc.normal_metrics)
        if not normal:
            continue
        step = step_of(normal)
        start, end = min(r[0] for r in normal), max(r[0] for r in normal)
        cases = [c for c in sc.cases if not splits or c.split in splits]
        for name, pipe in pipes.items():
            warm = warm_up(normal, pipe, graph)
            warm.advance(end + step / 2)  # timers of the last interval, before any case
            reports[name].false_incidents[sc.name] = false_incidents(warm, start, end,
                                                                     warmup)
            for case in cases:
                result = run_case(case, warm, end, step)
                reports[name].cases.append(result)
                if progress is not None:
                    progress(name, result)
    return reports


def standard_pipelines(ranking: str = "chain", baselines: bool = True) -> dict[str, Pipeline]:
    """The engine as it runs (default alerter, deviation tracker, correlator with the
    diagnosis window and ``ranking``), and for comparison in the same run: the rule baseline
    (deepest deviating node first, on the same evidence) and the previous default (composite
    ranking over the alerting nodes only, no diagnosis)."""
    from correlator.config import CorrelatorConfig, host_down_inhibition
    from correlator.diagnosis import DeviationWindow
    from correlator.ranking import strategy_by_name
    from detectors import default_metric_alerter

    config = CorrelatorConfig(inhibitions=(host_down_inhibition(),))

    def engine(name: str, diagnosis: bool) -> Pipeline:
        return Pipeline(
            alerter=default_metric_alerter,
            correlator=lambda g: TopologyCorrelator(
                config, graph=g, ranking=strategy_by_name(name),
                deviations=DeviationWindow() if diagnosis else None),
            tracker=DeviationTracker if diagnosis else None)

    pipes = {f"engine/{ranking}": engine(ranking, True)}
    if baselines:
        pipes["rule/deepest"] = engine("deepest", True)
        pipes["previous/composite-alerts-only"] = engine("composite", False)
    return pipes
