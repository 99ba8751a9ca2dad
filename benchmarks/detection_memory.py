"""Memory per series at 100k series, measured with tracemalloc (numpy reports to it).

Every series gets a realistic Prometheus-style key (~80 characters) and enough points to
fill its daily buckets, so the measurement includes what a running engine holds: the key
strings, the key index, the per-series numpy state and the slack of the arrays' growth.

    python benchmarks/detection_memory.py --series 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc

import numpy as np

from detectors.base import KeyedDetector
from detectors.postprocess import Pipeline
from detectors.registry import builtin_detectors


def measure(name: str, series: int, scrapes: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    keys = [f'http_request_duration_seconds{{instance="10.0.{i // 250 % 256}.{i % 250}:9090",'
            f'service="svc-{i % 500}"}}' for i in range(series)]
    det = builtin_detectors()[name]()
    step = 86400.0 / scrapes  # spread the scrapes over a day: every daily bucket is touched
    for s in range(scrapes):
        det.score_learn_many(keys, np.full(series, 1.7e9 + s * step),
                             rng.normal(100, 5, series))
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    stages = [det.detector, *det.post] if isinstance(det, Pipeline) else [det]
    slot_bytes = float(sum(s.state_bytes_per_series() for s in stages
                           if isinstance(s, KeyedDetector)))
    return {"series": series, "bytes_per_series": used / series,
            "state_bytes_per_slot": slot_bytes, "total_mb": used / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=48)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results = {}
    for name in ("default", "seasonal-likelihood", "seasonal", "zscore"):
        r = measure(name, args.series, args.scrapes)
        results[name] = r
        print(f"{name:20s} {r['bytes_per_series']:8.0f} B/series all in "
              f"({r['state_bytes_per_slot']:.0f} B numpy state per slot, "
              f"{r['total_mb']:.0f} MiB for {args.series} series)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
