"""Detection end to end through the local broker: points/s with single and batched messages.

Produces synthetic series to the metrics topic of a local Tansu broker, then runs the real
detect stage under the real ``StageRunner`` (consume, decode, score and learn, publish
alerts, commit) until every message is consumed. Reports points/s of wall time and per CPU
second of this process (the broker runs in its own process and is not counted).

    python benchmarks/detection_e2e.py [--series 1000] [--points 400000]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

import numpy as np

from aiops.stages.detect import DetectStage
from aiops.wire.shapes import dumps
from detectors import MetricAlerter, default_log_alerter, default_metric_alerter
from detectors.registry import previous_default
from streams.broker import LocalBroker
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.runner import StageRunner
from streams.stage import NullMetrics
from streams.topics import Topics


class Counter(NullMetrics):
    def __init__(self) -> None:
        self.messages = 0
        self.done = threading.Event()
        self.target = 0

    def consumed(self, stage: str, topic: str, count: int) -> None:
        self.messages += count

    def batch_latency(self, stage: str, seconds: float) -> None:
        # Called after the batch was processed, published and committed.
        if self.messages >= self.target:
            self.done.set()


def _messages(series: int, points: int, per_message: int, shape: str,
              seed: int = 0) -> list[bytes]:
    """``shape``: "samples" (time-major ``{"samples": [...]}``, one sample per series per
    step, as a scrape produces) or "series" (``{"series": [...]}``: ``per_message`` points
    as 50 series x per_message/50 consecutive steps, as a remote_write queue batches them)."""
    rng = np.random.default_rng(seed)
    steps = points // series
    t0 = 1_790_000_000.0
    values = 100 + 10 * rng.standard_normal((steps, series))
    labels = [{"service": f"svc{s % 50}", "pod": f"p{s}"} for s in range(series)]
    out: list[bytes] = []
    if shape == "series":
        width = 50
        depth = max(1, per_message // width)
        for first_step in range(0, steps, depth):
            rows = range(first_step, min(steps, first_step + depth))
            ts = [t0 + 15 * i for i in rows]
            for first in range(0, series, width):
                entries = [{"name": "cpu", "labels": labels[s], "ts": ts,
                            "values": values[first_step:first_step + len(ts), s].tolist()}
                           for s in range(first, min(series, first + width))]
                out.append(dumps({"series": entries}))
        return out
    batch: list[dict[str, object]] = []
    for i in range(steps):
        row = values[i].tolist()
        ts_i = t0 + 15 * i
        for s in range(series):
            batch.append({"name": "cpu", "labels": labels[s], "ts": ts_i, "value": row[s]})
            if len(batch) == per_message:
                out.append(dumps(batch[0]) if per_message == 1 else dumps({"samples": batch}))
                batch = []
    if batch:
        out.append(dumps({"samples": batch}))
    return out


def run(bootstrap: str, series: int, points: int, per_message: int,
        shape: str, *, previous: bool = False) -> tuple[float, float]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    topics = Topics(metrics=f"{prefix}.metrics", logs=f"{prefix}.logs",
                    alerts=f"{prefix}.alerts", incidents=f"{prefix}.incidents",
                    actions=f"{prefix}.actions", dlq=f"{prefix}.dlq", data_partitions=1)
    config = KafkaConfig(bootstrap_servers=bootstrap)
    ensure_topics(config, topics.specs())
    messages = _messages(series, points, per_message, shape)
    producer = EventProducer(config)
    for value in messages:
        producer.send(Record(topics.metrics, None, value))
    producer.flush(120)
    counter = Counter()
    counter.target = len(messages)

    def alerter() -> MetricAlerter:
        made = default_metric_alerter()
        if previous:  # the same policy around the previous default detector
            return MetricAlerter(previous_default(), made.policy)
        return made

    stage = DetectStage(topics, alerter, default_log_alerter)
    runner = StageRunner(stage, config, group_id=f"{prefix}.g", dlq_topic=topics.dlq,
                         metrics=counter, max_batch=5000 if per_message > 1 else 20000)
    thread = threading.Thread(target=runner.run, daemon=True)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    thread.start()
    runner.ready.wait(60)
    wall_ready, cpu_ready = time.perf_counter(), time.process_time()
    counter.done.wait(600)
    wall, cpu = time.perf_counter() - wall_ready, time.process_time() - cpu_ready
    runner.stop()
    thread.join(30)
    del wall0, cpu0
    total = (points // series) * series
    return total / wall, total / cpu


def river_hst_rate(points: int = 20_000, seed: int = 0) -> float:
    """River HalfSpaceTrees (default parameters) on the same kind of data, per CPU-second.

    One model per series is what a per-series detector needs; the cost per point is the
    same either way, so one model over the stream is measured.
    """
    from river import anomaly

    rng = np.random.default_rng(seed)
    values = (100 + 10 * rng.standard_normal(points)).tolist()
    model = anomaly.HalfSpaceTrees(seed=seed)
    c0 = time.process_time()
    for v in values:
        x = {"x": (v - 50.0) / 100.0}
        model.score_one(x)
        model.learn_one(x)
    return points / (time.process_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--single-points", type=int, default=100_000)
    args = parser.parse_args()
    rates: list[float] = []
    with LocalBroker() as broker:
        for label, points, per, shape in (
            ("series shape, 500 points/message", args.points, 500, "series"),
            ("samples shape, 500 samples/message", args.points, 500, "samples"),
            ("one sample per message", args.single_points, 1, "samples"),
            ("series shape, previous default", args.points, 500, "series-previous"),
        ):
            wall_rate, cpu_rate = run(broker.bootstrap_servers, args.series, points, per,
                                      shape.removesuffix("-previous"),
                                      previous=shape.endswith("-previous"))
            print(f"{label:36s} {points:>8d} points  {wall_rate:>10,.0f} points/s wall  "
                  f"{cpu_rate:>10,.0f} points/s per CPU-second")
            rates.append(cpu_rate)
    hst = river_hst_rate()
    print(f"{'River HalfSpaceTrees in-process':36s} {20_000:>8d} points  {'':>22s}"
          f"{hst:>10,.0f} points/s per CPU-second")
    print(f"series shape end to end / River HST in-process: {rates[0] / hst:.1f}x")


if __name__ == "__main__":
    main()
