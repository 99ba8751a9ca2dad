"""Root-cause and grouping quality of a correlator over scenarios with known truth.

Per scenario the alerts are fed in sending order, with ``tick`` at each sending time, exactly
as the correlate stage would. Then:

* AC@k: for each injected fault, the incident holding most of its alerts is "its" incident;
  AC@k is the share of faults whose root is among that incident's first k candidates (a pod
  candidate counts for its service). Avg@5 is the mean of AC@1..AC@5.
* compression: ``1 - incidents / alert episodes`` (an episode is one alert from firing to
  resolution; Alertmanager's repeats are not counted as alerts, merged-away incidents are not
  counted as incidents). ``compression_notified`` also counts merged-away incidents (people
  saw them), and ``compression_of_notifications`` divides by every notification received
  (repeats and resolutions too), the way event-to-incident noise reduction is usually sold.
* pairwise precision/recall: over pairs of alert episodes, "same incident" against "same
  fault"; every noise episode is its own truth cluster.
* time to first incident: from fault start to the sending time of the first raised incident
  version holding one of the fault's alerts.

What counts is what the correlator had shown when the scenario's data ends: an alert that
began in the last minute or two and is still pending then was neither raised nor dropped.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.model import Alert, Incident
from aiops.sim.scenario import GroundTruth, alert_key
from correlator.types import Correlator
from topology.graph import ServiceGraph


@dataclass
class ScenarioResult:
    name: str
    kinds: tuple[str, ...]
    ranks: list[int | None]  # 1-based rank of each fault's root, None if not in the list
    episodes: int
    incidents: int
    notified: int
    pairs_tp: int
    pairs_pred: int
    pairs_true: int
    ttfi: list[float]
    alerts_processed: int  # notifications fed in: firing, repeats, resolutions


@dataclass
class EvalReport:
    results: list[ScenarioResult] = field(default_factory=list)

    def ac(self, k: int) -> float:
        ranks = [r for res in self.results for r in res.ranks]
        return sum(1 for r in ranks if r is not None and r <= k) / max(1, len(ranks))

    def ac_where(self, k: int, faults: int) -> float | None:
        """AC@k over scenarios with exactly ``faults`` injected faults."""
        ranks = [r for res in self.results if len(res.ranks) == faults for r in res.ranks]
        if not ranks:
            return None
        return round(sum(1 for r in ranks if r is not None and r <= k) / len(ranks), 4)

    def summary(self) -> dict[str, Any]:
        res = self.results
        episodes = sum(r.episodes for r in res)
        incidents = sum(r.incidents for r in res)
        tp = sum(r.pairs_tp for r in res)
        pred = sum(r.pairs_pred for r in res)
        true = sum(r.pairs_true for r in res)
        ttfi = sorted(t for r in res for t in r.ttfi)
        prec = [r.pairs_tp / r.pairs_pred for r in res if r.pairs_pred]
        rec = [r.pairs_tp / r.pairs_true for r in res if r.pairs_true]
        by_kind: dict[str, list[int | None]] = defaultdict(list)
        for r in res:
            for kind, rank in zip(r.kinds, r.ranks, strict=False):
                by_kind[kind].append(rank)
        return {
            "scenarios": len(res),
            "faults": sum(len(r.ranks) for r in res),
            "AC@1": round(self.ac(1), 4), "AC@3": round(self.ac(3), 4),
            "Avg@5": round(sum(self.ac(k) for k in range(1, 6)) / 5, 4),
            "AC@1_single_fault": self.ac_where(1, 1), "AC@3_single_fault": self.ac_where(3, 1),
            "AC@1_two_faults": self.ac_where(1, 2), "AC@3_two_faults": self.ac_where(3, 2),
            "alert_episodes": episodes, "incidents": incidents,
            "compression": round(1 - incidents / max(1, episodes), 4),
            "compression_notified": round(
                1 - sum(r.notified for r in res) / max(1, episodes), 4),
            "notifications": sum(r.alerts_processed for r in res),
            "compression_of_notifications": round(
                1 - incidents / max(1, sum(r.alerts_processed for r in res)), 4),
            "pairwise_precision": round(tp / pred, 4) if pred else 1.0,
            "pairwise_recall": round(tp / true, 4) if true else 1.0,
            "pairwise_precision_macro": round(statistics.fmean(prec), 4) if prec else 1.0,
            "pairwise_recall_macro": round(statistics.fmean(rec), 4) if rec else 1.0,
            "ttfi_median_s": round(statistics.median(ttfi), 1) if ttfi else None,
            "ttfi_p90_s": round(ttfi[int(0.9 * (len(ttfi) - 1))], 1) if ttfi else None,
            "AC@1_by_kind": {k: round(sum(1 for x in v if x == 1) / len(v), 3)
                             for k, v in sorted(by_kind.items())},
        }


def _pairs(counter: Iterable[int]) -> int:
    return sum(c * (c - 1) // 2 for c in counter)


def _matches(candidate: str, root: str, graph: ServiceGraph | None) -> bool:
    if candidate == root:
        return True
    if graph is not None and candidate in graph and graph.kind(candidate) == "pod":
        return graph.node(candidate).labels.get("service") == root
    return False


def run_correlator(correlator: Correlator, events: Sequence[tuple[float, Alert]],
                   tick_every: float = 5.0
                   ) -> tuple[dict[str, Incident], dict[str, str], dict[str, float]]:
    """Feed ``events``; return final incidents, episode -> incident id, and the sending
    time at which each episode first appeared in a raised incident (a pending incident is
    not shown to anyone, and one dropped as transient never is). Between alerts the clock
    ticks every ``tick_every`` seconds, as the correlate stage's timers do when idle."""
    latest: dict[str, Incident] = {}
    member: dict[str, str] = {}
    placed: dict[str, float] = {}

    def place(out: list[Incident], ts: float) -> None:
        for inc in out:
            latest[inc.id] = inc
            if not inc.raised:
                continue
            for a in inc.alerts:  # newly raised incidents show all their members at once
                if a.firing:
                    k = alert_key(a)
                    if k not in member:
                        member[k] = inc.id
                        placed[k] = ts

    clock = events[0][0] if events else 0.0
    for ts, alert in events:
        while clock + tick_every < ts:  # timers run while no alert arrives, as in the stage
            clock += tick_every
            place(correlator.tick(clock), clock)
        clock = max(clock, ts)
        place(correlator.process(alert) + correlator.tick(ts), ts)
    return latest, member, placed


def _final_id(ident: str, latest: dict[str, Incident]) -> str:
    seen = set()
    while ident in latest and ident not in seen:
        seen.add(ident)
        merged = [e for e in latest[ident].timeline if e.event == "merged_into"]
        if not merged:
            break
        ident = merged[-1].note.rsplit(" ", 1)[-1]
    return ident


def evaluate_events(name: str, events: Sequence[tuple[float, Alert]], truth: GroundTruth,
                    correlator: Correlator, graph: ServiceGraph | None) -> ScenarioResult:
    latest, member, placed = run_correlator(correlator, events)
    episodes = sorted({alert_key(a) for _, a in events if a.firing})
    cause = {k: truth.causes.get(k, "noise") for k in episodes}
    pred = {k: _final_id(member[k], latest) if k in member else f"dropped:{k}"
            for k in episodes}
    truth_cluster = {k: cause[k] if cause[k] != "noise" else f"noise:{k}" for k in episodes}
    tp = _pairs(Counter((pred[k], truth_cluster[k]) for k in episodes).values())
    n_pred = _pairs(Counter(pred.values()).values())
    n_true = _pairs(Counter(truth_cluster.values()).values())
    merged = {i for i, inc in latest.items() if _final_id(i, latest) != i}
    raised = {i for i, inc in latest.items() if inc.raised}
    ranks: list[int | None] = []
    ttfi: list[float] = []
    for fault in truth.faults:
        mine = [k for k in episodes if cause[k] == fault.id]
        incs = Counter(pred[k] for k in mine if not pred[k].startswith("dropped:"))
        if not incs:
            ranks.append(None)
            continue
        best = min(incs, key=lambda i: (-incs[i], latest[i].opened_at, i))
        rank = None
        for pos, rc in enumerate(latest[best].root_causes, start=1):
            if _matches(rc.service, fault.root, graph):
                rank = pos
                break
        ranks.append(rank)
        times = [placed[k] for k in mine if k in placed]
        if times:
            ttfi.append(min(times) - fault.start)
    return ScenarioResult(
        name=name, kinds=tuple(f.kind for f in truth.faults), ranks=ranks,
        episodes=len(episodes), incidents=len(raised - merged), notified=len(raised),
        pairs_tp=tp, pairs_pred=n_pred, pairs_true=n_true, ttfi=ttfi,
        alerts_processed=len(events))


@dataclass(frozen=True, slots=True)
class SuiteCase:
    name: str
    n_services: int
    fault: str
    seed: int
    n_faults: int = 1


def standard_suite(count: int = 210, seed: int = 0,
                   sizes: Sequence[int] = (10, 30, 100, 300)) -> list[SuiteCase]:
    """A fixed mix: every fault kind equally often, sizes cycling, every fifth case with two
    concurrent faults in different parts of the system (to test that grouping separates)."""
    from aiops.sim.faults import FAULT_KINDS

    cases = []
    for i in range(count):
        kind = FAULT_KINDS[i % len(FAULT_KINDS)]
        size = sizes[(i // len(FAULT_KINDS)) % len(sizes)]
        n_faults = 2 if i % 5 == 4 and size >= 30 else 1
        cases.append(SuiteCase(f"{kind}-{size}-s{seed + i}", size, kind, seed + i, n_faults))
    return cases


def evaluate_suite(cases: Sequence[SuiteCase],
                   makers: Mapping[str, Callable[[ServiceGraph], Correlator]],
                   duration: float = 3600.0,
                   progress: Callable[[int, str, ScenarioResult], None] | None = None
                   ) -> dict[str, EvalReport]:
    """Generate each case once and run every correlator in ``makers`` on it."""
    from aiops.sim.scenario import generate

    reports = {name: EvalReport() for name in makers}
    for i, case in enumerate(cases):
        sc = generate(case.n_services, case.fault, case.seed, duration=duration,
                      n_faults=case.n_faults, logs=False)
        for name, make in makers.items():
            result = evaluate_events(case.name, sc.alert_events, sc.truth, make(sc.graph),
                                     sc.graph)
            reports[name].results.append(result)
            if progress is not None:
                progress(i, name, result)
    return reports
