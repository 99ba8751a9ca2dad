"""In-process detection throughput, ours against River on the same data in the same run.

Each batch is one scrape: one sample of every series (a daily sine plus noise, 60 s apart),
which is how the metrics topic delivers them. Throughput is points per CPU second of this
process (``time.process_time``), i.e. per core: numpy's element-wise work is single-threaded,
and CPU time stays honest when other work shares the machine. The first batches (series
creation, warm-up) are not timed, and one untimed pass runs first (the steady state of a
long-running worker: its allocator reuses memory for the ~1 MB temporaries a batch makes).

Measured:
* our detectors on arrays (``score_learn_many``): the default detector (the scorer
  ensemble with its likelihoods), the previous default (seasonal baseline + anomaly
  likelihood), the seasonal baseline alone, the rolling z-score;
* the detect stage's boundary: ``MetricAlerter.process_columns`` on the columnar batches
  the wire decoder produces (detector and alert policy), and ``MetricAlerter.process`` on
  ``MetricSample`` objects (which also builds a series key and arrays per point);
* River ``HalfSpaceTrees`` (default parameters, after River's ``MinMaxScaler``) and River
  ``StandardAbsoluteDeviation``, one model per series, on the first ``--river-series``
  series of the same data, in their steady state (building a model is not timed: a River
  HalfSpaceTrees takes milliseconds to build, which at 100k series would dominate).

    python benchmarks/detection_throughput.py --series 100000 --batches 10
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from aiops.model import MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.base import Detector
from detectors.registry import builtin_detectors


def make_batches(series: int, batches: int, seed: int = 0) -> list[tuple[np.ndarray,
                                                                         np.ndarray]]:
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, series)
    level = rng.uniform(10, 1000, series)
    out = []
    t0 = 1.7e9
    for b in range(batches):
        t = t0 + 60.0 * b
        v = level * (1 + 0.2 * np.sin(2 * np.pi * t / 86400 + phase)) + rng.normal(0, 1, series)
        out.append((np.full(series, t), v))
    return out


def ours(factory: Callable[[], Detector], keys: list[str],
         data: list[tuple[np.ndarray, np.ndarray]], warm: int) -> float:
    det = factory()
    for ts, v in data[:warm]:
        det.score_learn_many(keys, ts, v)
    points = 0
    start = time.process_time()
    for ts, v in data[warm:]:
        det.score_learn_many(keys, ts, v)
        points += v.shape[0]
    return points / (time.process_time() - start)


def alerter(labels: list[dict[str, str]], data: list[tuple[np.ndarray, np.ndarray]],
            warm: int, columnar: bool) -> float:
    """The detect stage's boundary: on ``MetricSample`` objects (series keys built per
    point), or on the columnar batches the wire decoder produces (keys built per series,
    outside the timed part, as the decoder does)."""
    al = default_metric_alerter()
    batches = [[MetricSample("http_request_duration_seconds", lab, float(t), float(x))
                for lab, t, x in zip(labels, ts.tolist(), v.tolist(), strict=True)]
               for ts, v in data]
    columns = [MetricColumns.from_samples(b) for b in batches] if columnar else []
    for i in range(warm):
        if columnar:
            al.process_columns(columns[i])
        else:
            al.process(batches[i])
    points = 0
    start = time.process_time()
    for i in range(warm, len(batches)):
        if columnar:
            al.process_columns(columns[i])
        else:
            al.process(batches[i])
        points += len(batches[i])
    return points / (time.process_time() - start)


def river(name: str, keys: list[str], data: list[tuple[np.ndarray, np.ndarray]],
          points: int, series: int) -> float:
    """River in its steady state: ``series`` models built first (untimed), then fed
    scrapes of the same data until ``points`` points were scored and learnt."""
    det = builtin_detectors()[name]()
    ts0, v0 = data[0]
    det.score_learn_many(keys[:series], ts0[:series], v0[:series])
    done = 0
    start = time.process_time()
    step = 0
    while done < points:
        ts, v = data[1 + step % (len(data) - 1)]
        det.score_learn_many(keys[:series], ts[:series] + 60.0 * step, v[:series])
        done += series
        step += 1
    return done / (time.process_time() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--river-points", type=int, default=20_000)
    ap.add_argument("--river-series", type=int, default=20)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    labels = [{"service": f"svc-{i % 500}", "instance": f"10.0.{i // 250 % 256}.{i % 250}:9090",
               "route": f"/api/r{i % 20}"} for i in range(args.series)]
    keys = [f'http_request_duration_seconds{{instance="{d["instance"]}",route="{d["route"]}",'
            f'service="{d["service"]}"}}' for d in labels]
    data = make_batches(args.series, args.batches)
    factories = builtin_detectors()
    results: dict[str, float] = {}
    # one untimed pass first: a long-running worker's allocator has long adapted to
    # ~1 MB temporaries, a fresh process pays page faults for them the first time
    ours(factories["default"], keys, data, args.warm)
    for name in ("default", "seasonal-likelihood", "seasonal", "zscore"):
        results[f"ours:{name}"] = ours(factories[name], keys, data, args.warm)
    results["ours:MetricAlerter.process_columns"] = alerter(labels, data, args.warm, True)
    results["ours:MetricAlerter.process(samples)"] = alerter(labels, data, args.warm, False)
    for name in ("river-hst", "river-sad"):
        results[f"river:{name}"] = river(name, keys, data, args.river_points,
                                         args.river_series)
    hst = results["river:river-hst"]
    print(f"series={args.series} timed batches={args.batches - args.warm} "
          f"(points per CPU second, one core)")
    for name, rate in results.items():
        print(f"{name:32s} {rate:14,.0f} points/s   {rate / hst:8.1f}x River HST")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
