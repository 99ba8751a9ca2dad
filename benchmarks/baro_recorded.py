"""BARO (RCAEval's implementation) on recorded telemetry cases, scored like the engine.

Runs in its own environment, never in the engine's: RCAEval pins old versions of half of
PyPI. Set one up once and point ``aiops eval rca --baro-python`` at it::

    python3 -m venv /work/venv-baro
    /work/venv-baro/bin/pip install rcaeval numpy pandas scikit-learn requests tqdm \\
        matplotlib networkx causal-learn
    PYTHONPATH=. /work/venv-baro/bin/python benchmarks/baro_recorded.py DIR [--split train]

BARO is *told* the fault time (``inject_ts``): everything before it is the normal period,
everything from it on the anomalous one, and series are ranked by the largest robust-scaled
(median/IQR) value after it; a node ranks where its first series does. That is the offline
setting its paper and RCAEval evaluate; the engine gets no such hint. Only the standard
library, pandas and RCAEval are imported here: the case reader is loaded from its file so
the engine's own dependencies are not needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _recorded() -> Any:
    spec = importlib.util.spec_from_file_location(
        "recorded", HERE.parent / "aiops" / "sim" / "recorded.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["recorded"] = mod
    spec.loader.exec_module(mod)
    return mod


def rank_case(rec: Any, normal: list[Any], case: Any, history_s: float) -> list[str]:
    import pandas as pd
    from RCAEval.e2e.baro import baro

    step = rec.step_of(normal)
    shift = case.window_start - step - max(r[0] for r in normal)
    rows = [(t + shift, n, lab, v) for t, n, lab, v in normal
            if t + shift >= case.window_start - history_s]
    rows += rec.metric_rows(case.metrics_path)
    cols: dict[str, dict[float, float]] = defaultdict(dict)
    owner: dict[str, str] = {}
    for ts, name, labels, value in rows:
        node = labels.get("service") or labels.get("job") or labels.get("app") or "unknown"
        stat = labels.get("statistic") or labels.get("quantile") or ""
        col = f"{node}|{name}|{stat}"
        cols[col][ts] = value
        owner[col] = node
    frame = pd.DataFrame(cols).sort_index()
    frame = frame.ffill().fillna(0.0)
    frame.insert(0, "time", frame.index.astype(float))
    frame = frame.reset_index(drop=True)
    out = baro(frame, inject_time=case.inject_ts, dataset="recorded")
    nodes: list[str] = []
    for col in out["ranks"]:
        node = owner.get(col)
        if node is not None and node not in nodes:
            nodes.append(node)
    return nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="+", type=Path)
    ap.add_argument("--split", action="append", default=[])
    ap.add_argument("--history-hours", type=float, default=12.0,
                    help="Normal data before the case given to BARO.")
    args = ap.parse_args()
    rec = _recorded()
    groups: dict[str, list[int | None]] = defaultdict(list)
    misses: list[str] = []
    for directory in args.dataset:
        for sc in rec.load_recorded(directory):
            normal = rec.metric_rows(sc.normal_metrics)
            for case in sc.cases:
                if args.split and case.split not in args.split:
                    continue
                ranked = rank_case(rec, normal, case, args.history_hours * 3600.0)
                rank = ranked.index(case.root) + 1 if case.root in ranked else None
                for key in (f"{case.scenario}/{case.split}", case.split, "all"):
                    groups[key].append(rank)
                if rank != 1:
                    misses.append(f"{case.name} {case.fault}: truth {case.root}, got "
                                  f"{ranked[:3]}")
    out: dict[str, Any] = {}
    for key, ranks in sorted(groups.items()):
        n = max(1, len(ranks))

        def ac(k: int, ranks: list[int | None] = ranks, n: int = n) -> float:
            return sum(1 for r in ranks if r is not None and r <= k) / n

        out[key] = {"cases": len(ranks), "AC@1": round(ac(1), 3), "AC@3": round(ac(3), 3),
                    "AC@5": round(ac(5), 3),
                    "Avg@5": round(statistics.fmean(ac(k) for k in range(1, 6)), 3)}
    out["misses"] = misses
    print(json.dumps(out))


if __name__ == "__main__":
    main()
