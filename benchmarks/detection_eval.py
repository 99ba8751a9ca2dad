"""Detection quality on all three development sets, every candidate in the same run.

For each set and detector it reports

* the NAB-style score (standard profile and NAB's other two; one threshold swept over the
  whole set, as NAB does) of the detector's scores after the onset step
  (:class:`~detectors.postprocess.OnsetFilter`: NAB counts rows, the engine fires once per
  episode, so every detector is given the same onset step);
* event-level precision, recall and F1: the engine's alert policy (the one
  :func:`detectors.default_metric_alerter` builds: threshold 0.5, clear 0.3, two points to
  fire) runs on the raw scores; a labelled window is found when an alert fires inside it,
  and each alert outside every window is a false positive. ``@0.5`` is at the engine's
  default threshold; ``best`` sweeps the threshold (clear kept at 0.6 of it) and keeps the
  best F1 of the set, which is the fair figure for detectors whose scores are on another
  scale (the raw z-score, River's).

Sets (``--root`` holds them): ``nab-dev`` and ``ms-cloud-monitoring`` are univariate files
in NAB's layout; ``asd`` has 12 servers x 19 metrics: the univariate detectors score every
metric of a server, the server's score is the largest of its metrics' surprises less
``log10(19)`` (Bonferroni for the 19 tests; one policy per server); the entity detectors
score the 19-vector (one key per server, servers interleaved by time): ``metricwise``, the
default of :class:`~detectors.entity.EntityAlerter` (each metric by the default ensemble
measured at its resolution, the metrics' tails combined by Stouffer's method,
:mod:`detectors.metricwise`), its variants, and the per-entity IsolationForest
(``iforest``). ASD's 30 training days
are fed first (learnt, not scored), the 15 test days are scored without probation. On
``asd`` the alert policy also escalates, as :class:`~detectors.entity.EntityAlerter` does:
a firing server whose deviation (:func:`~detectors.metricwise.score_z` of its score) reaches
twice the one it was raised at is raised again as a new event, and counts as one (inside a
window: found; outside every window: a false alert), for every detector alike.

    python benchmarks/detection_eval.py --root /work/shared/data --workers 2
    python benchmarks/detection_eval.py --only default seasonal-likelihood --onset hold
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import Detector
from detectors.ensemble import EnsembleDetector
from detectors.iforest import EntityIsolationForest
from detectors.metricwise import MetricwiseDetector, score_z
from detectors.nab.corpus import iter_files, parse_timestamp, read_labels, read_series
from detectors.nab.events import EventCounts, count_events, policy_fires, total
from detectors.nab.scoring import PROFILES, file_rows, sweep
from detectors.policy import AlertPolicy
from detectors.postprocess import (
    AnomalyLikelihood,
    OnsetFilter,
    Pipeline,
    score_surprise,
    surprise_score,
)
from detectors.registry import builtin_detectors

SETS = ("nab-dev", "ms-cloud-monitoring", "asd")
# an episode ends as the engine's alert resolves: 5 points below 0.6 (clear / threshold)
# of the score that counted (--onset hold: the fixed 100-point hold used before)
# inside an episode, a rising score is a new onset only a decade of tail probability up
ONSET: dict[str, Any] = {"rearm_ratio": 0.6, "rearm_count": 5, "rise": 0.1}
ENGINE_POLICY = AlertPolicy(threshold=0.5, clear_threshold=0.3, for_count=2, resolve_count=5,
                            cooldown_seconds=300.0, critical_threshold=0.9)


@dataclass(slots=True)
class Case:
    """One scored unit: a file, or an ASD server (``values`` then has 19 columns)."""

    name: str
    ts: np.ndarray
    values: np.ndarray
    windows: list[tuple[float, float]]
    scored_from: int = 0  # rows before it are learnt, not scored (ASD's training days)
    probation: float = 0.15
    extra: dict[str, Any] = field(default_factory=dict)


def load_set(root: Path, name: str) -> list[Case]:
    base = root / name
    if name == "asd":
        return _load_asd(base)
    labels = read_labels(base / "combined_windows.json")
    cases = []
    for rel in iter_files(base / "data"):
        s = read_series(base / "data", rel)
        cases.append(Case(rel, s.ts, s.values, labels.get(rel, [])))
    return cases


def _load_asd(base: Path) -> list[Case]:
    labels = read_labels(base / "combined_windows.json")
    cases = []
    for path in sorted((base / "multivariate").glob("omi-*.csv"),
                       key=lambda p: int(p.stem.split("-")[1])):
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        metrics = [h for h in header if h.startswith("m")]
        cols = [header.index(m) for m in metrics]
        split = header.index("split")
        ts = np.array([parse_timestamp(r[0]) for r in rows])
        vals = np.array([[float(r[c]) for c in cols] for r in rows])
        test = int(next(i for i, r in enumerate(rows) if r[split] == "test"))
        cases.append(Case(path.stem, ts, vals, labels.get(f"multivariate/{path.name}", []),
                          scored_from=test, probation=0.0))
    return cases


def _flatten(cases: list[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[slice]]:
    """Every univariate series of the set as one keyed stream (ASD: one key per metric)."""
    keys, ts, vals, spans = [], [], [], []
    k = 0
    at = 0
    for c in cases:
        cols = c.values if c.values.ndim == 2 else c.values[:, None]
        for j in range(cols.shape[1]):
            keys.append(np.full(c.ts.shape[0], k, dtype=np.int64))
            ts.append(c.ts)
            vals.append(cols[:, j])
            k += 1
        spans.append(slice(at, k))
        at = k
    return np.concatenate(keys), np.concatenate(ts), np.concatenate(vals), spans


def raw_scores(cases: list[Case], factory: Callable[[], Detector], multivariate: bool
               ) -> list[np.ndarray]:
    """Per case, its raw score per row (ASD univariate: the largest of its metrics')."""
    det = factory()
    if multivariate:  # one key per entity, entities interleaved by time as they arrive
        ekeys = np.concatenate([np.full(c.ts.shape[0], i) for i, c in enumerate(cases)])
        ets = np.concatenate([c.ts for c in cases])
        eorder = np.lexsort((ekeys, ets))
        escores = np.empty(ekeys.shape[0])
        escores[eorder] = det.score_learn_many(ekeys[eorder], ets[eorder],
                                               np.vstack([c.values for c in cases])[eorder])
        return np.split(escores, np.cumsum([c.ts.shape[0] for c in cases])[:-1])
    keys, ts, vals, spans = _flatten(cases)
    # interleave by time so every series advances together (one round = one row each)
    order = np.lexsort((keys, ts))
    scores = np.empty(keys.shape[0])
    scores[order] = det.score_learn_many(keys[order], ts[order], vals[order])
    bounds = np.flatnonzero(np.diff(keys)) + 1
    per_series = np.split(scores, bounds)
    out = []
    for sp in spans:
        block = np.vstack(per_series[sp])
        if block.shape[0] == 1:
            out.append(block[0])
            continue
        # an entity's score is its most surprising metric's, corrected for the number of
        # metrics looked at (Bonferroni): 19 calm metrics make a 1-in-19 tail every point
        worst = score_surprise(block).max(axis=0) - np.log10(block.shape[0])
        out.append(surprise_score(worst))
    return out


def onsets(cases: list[Case], raw: list[np.ndarray]) -> list[np.ndarray]:
    f = OnsetFilter(**ONSET)
    return [f.score_learn_many(np.full(c.ts.shape[0], i), c.ts, r)
            for i, (c, r) in enumerate(zip(cases, raw, strict=True))]


def nab_scores(cases: list[Case], onset: list[np.ndarray]) -> dict[str, float]:
    rows = []
    for c, s in zip(cases, onset, strict=True):
        ts = c.ts[c.scored_from:]
        wins = []
        for a, b in c.windows:
            first = int(np.searchsorted(ts, a, side="left"))
            last = int(np.searchsorted(ts, b, side="right")) - 1
            if first <= last:
                wins.append((first, last))
        rows.append(file_rows(s[c.scored_from:], wins, c.probation))
    return {p.name: round(sweep(rows, p).normalized, 2) for p in PROFILES}


def escalating_fires(ts: np.ndarray, scores: np.ndarray, policy: AlertPolicy) -> np.ndarray:
    """Timestamps of the events ``policy`` raises on one entity's scores, escalations
    included, judged as :class:`~detectors.entity.EntityAlerter` judges them.

    >>> p = AlertPolicy(threshold=0.5, clear_threshold=0.3, for_count=1, resolve_count=1)
    >>> escalating_fires(np.arange(6.0), np.array([0, .6, .6, .99, .6, 0]), p).tolist()
    [1.0, 3.0]
    """
    held = float(score_z(policy.clear_threshold)[0])
    return policy_fires(ts, scores, policy, score_z(scores), held)


def events(cases: list[Case], raw: list[np.ndarray], policy: AlertPolicy,
           escalations: bool = False) -> tuple[EventCounts, list[EventCounts]]:
    per = []
    for c, s in zip(cases, raw, strict=True):
        fires = (escalating_fires if escalations else policy_fires)(c.ts, s, policy)
        fires = fires[fires >= c.ts[c.scored_from]]
        per.append(count_events(fires, c.windows))
    return total(per), per


def best_events(cases: list[Case], raw: list[np.ndarray], escalations: bool = False
                ) -> tuple[float, EventCounts]:
    allraw = np.concatenate(raw)
    qs = np.quantile(allraw, [0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999])
    grid = sorted({round(float(x), 6) for x in qs} | {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9})
    best = (0.5, EventCounts())
    for th in grid:
        if not 0.0 < th <= 1.0:
            continue
        pol = AlertPolicy(threshold=th, clear_threshold=0.6 * th, for_count=2,
                          resolve_count=5, cooldown_seconds=300.0, critical_threshold=th)
        got, _ = events(cases, raw, pol, escalations)
        if got.f1 > best[1].f1:
            best = (th, got)
    return best


def candidates() -> dict[str, tuple[Callable[[], Detector], bool]]:
    """Name -> (factory, multivariate?)."""
    f = builtin_detectors()
    out: dict[str, tuple[Callable[[], Detector], bool]] = {
        name: (f[name], False) for name in
        ("default", "seasonal-likelihood", "ensemble-all", "zscore", "likelihood-zscore",
         "river-sad", "river-hst")
        if name in f}
    # the default with the seasonal spread floored at the series' resolution
    out["default+resolution"] = (lambda: EnsembleDetector(min_points=20, seasonal_warmup=20,
                                                          resolution=1.0), False)
    out["river-hst+likelihood"] = (lambda: Pipeline(f["river-hst"](),
                                                    AnomalyLikelihood(log_input=False),
                                                    name="river-hst+likelihood"), False)
    out["metricwise"] = (MetricwiseDetector, True)
    # the entity default without the resolution floor; the Bonferroni max with it
    out["metricwise-nofloor"] = (lambda: MetricwiseDetector(
        lambda: EnsembleDetector(min_points=20, seasonal_warmup=20)), True)
    out["metricwise-max"] = (lambda: MetricwiseDetector(combine="max"), True)
    out["iforest"] = (lambda: Pipeline(EntityIsolationForest(),
                                       AnomalyLikelihood(log_input=False),
                                       name="iforest+likelihood"), True)
    return out


def run_job(job: tuple[str, str, str, bool]) -> dict[str, Any]:
    root, set_name, det_name, hold = job
    if hold:
        ONSET.clear()
    factory, multi = candidates()[det_name]
    cases = load_set(Path(root), set_name)
    started = time.process_time()
    raw = raw_scores(cases, factory, multi)
    cpu = time.process_time() - started
    nab = nab_scores(cases, onsets(cases, raw))
    fixed, per = events(cases, raw, ENGINE_POLICY, set_name == "asd")
    th, best = best_events(cases, raw, set_name == "asd")
    return {"set": set_name, "detector": det_name, "nab": nab, "cpu_s": round(cpu, 1),
            "points": int(sum(c.values.size for c in cases)),
            "fixed": _ev(fixed), "best": {"threshold": th, **_ev(best)},
            "per_case": {c.name: [e.found, e.windows, e.false_alerts]
                         for c, e in zip(cases, per, strict=True)}}


def _ev(e: EventCounts) -> dict[str, float]:
    return {"precision": round(e.precision, 3), "recall": round(e.recall, 3),
            "f1": round(e.f1, 3), "found": e.found, "windows": e.windows,
            "alerts": e.alerts, "false": e.false_alerts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--onset", choices=("episode", "hold"), default="episode",
                    help="NAB onset step: re-arm when an episode ends (default), or the "
                         "fixed 100-point hold used before")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    names = [n for n in candidates() if not args.only or n in args.only]
    jobs = [(str(args.root), s, n, args.onset == "hold") for s in args.sets for n in names
            if not ((n == "iforest" or n.startswith("metricwise")) and s != "asd")]
    with Pool(max(1, args.workers)) as pool:
        results = []
        for r in pool.imap(run_job, jobs):
            results.append(r)
            fx, be = r["fixed"], r["best"]
            print(f"{r['set']:20s} {r['detector']:22s} NAB std {r['nab']['standard']:6.2f} "
                  f"lowFP {r['nab']['reward_low_FP_rate']:6.2f} "
                  f"lowFN {r['nab']['reward_low_FN_rate']:6.2f} | "
                  f"@0.5 P {fx['precision']:.2f} R {fx['recall']:.2f} F1 {fx['f1']:.3f} "
                  f"({fx['found']}/{fx['windows']}, {fx['false']} false) | best@"
                  f"{be['threshold']:.4g} F1 {be['f1']:.3f} P {be['precision']:.2f} "
                  f"R {be['recall']:.2f} | {r['cpu_s']}s cpu", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
