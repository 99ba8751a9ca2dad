"""NAB scores of our detectors and River's HalfSpaceTrees on a NAB-format corpus.

Runs each detector over every file (``detectors.nab.runner.run_corpus``, the same code as
``aiops backtest nab``), writes NAB result files under ``--out/<detector>/``, and scores
them with NAB's protocol (``aiops backtest score``): one threshold swept per profile over
the whole corpus, normalised so the null detector scores 0 and the perfect one 100.

    python benchmarks/detection_nab.py /work/shared/data/nab-dev --out /tmp/nab-results
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from detectors.base import Detector
from detectors.nab.runner import run_corpus, score_results
from detectors.postprocess import AnomalyLikelihood, OnsetFilter, Pipeline
from detectors.registry import builtin_detectors
from detectors.river_adapters import river_half_space_trees


def candidates() -> dict[str, Callable[[], Detector]]:
    f = builtin_detectors()
    return {
        "default-onsets": f["default-onsets"],
        "default": f["default"],
        "seasonal": f["seasonal"],
        "zscore": f["zscore"],
        "river-hst": f["river-hst"],
        "river-hst+likelihood+onsets": lambda: Pipeline(
            river_half_space_trees(), AnomalyLikelihood(log_input=False), OnsetFilter(),
            name="river-hst+likelihood+onsets"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="NAB corpus: data/ and combined_windows.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results: dict[str, dict[str, float]] = {}
    for name, factory in candidates().items():
        if args.only and name not in args.only:
            continue
        out = args.out / name
        started = time.perf_counter()
        run_corpus(args.root / "data", out, factory())
        elapsed = time.perf_counter() - started
        scores = score_results(out, args.root / "combined_windows.json")
        results[name] = {p: round(r.normalized, 2) for p, r in scores.items()}
        results[name]["seconds"] = round(elapsed, 1)
        print(f"{name:30s} " + "  ".join(f"{p} {r.normalized:6.2f}" for p, r in scores.items())
              + f"  ({elapsed:.0f}s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
