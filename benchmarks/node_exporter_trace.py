"""Real node-exporter data through the detect stage's path, recorded once and replayed.

``record`` starts Debian's ``prometheus-node-exporter`` and scrapes it every 250 ms through
the steps of the live test (``tests/integration/test_node_exporter.py``): a quiet phase, the
exporter stopped for a scrape gap and started again (its own process is a new one), quiet
again, a CPU burner (two busy loops per CPU), and quiet after it stops. Each scrape's
exposition text goes to a JSON-lines file with the step marks. ``replay`` feeds the trace,
one scrape per batch, through the metric semantics and the default alerter as the detect
stage does (with the types remote_write metadata would carry), restarts the engine from a
pickled checkpoint where the live test does (``--restart-at``, seconds after the start), and
prints every alert of the quiet phases and of the burn. A replay is deterministic, so two
builds can be compared on the same real data::

    python benchmarks/node_exporter_trace.py record trace.jsonl --quiet 60 --gap 30 \\
        --after-gap 60 --burn 40 --after 60
    python benchmarks/node_exporter_trace.py replay trace.jsonl [more.jsonl ...]

The CPU share each mode had around the burn is printed too: on a machine already saturated
by other work a burner at the lowest priority (the default, as in the live test) changes no
CPU share; ``--nice 0`` makes it compete as an equal, which shows where other work runs
niced.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aiops.model import Alert, MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.semantics import MetricSemantics

SCRAPE_S = 0.25
DECLARED = ("counter", "gauge", "histogram", "summary")


class _Exporter:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def record(path: str, quiet: float, gap: float, after_gap: float, burn: float,
           after: float, nice: int = 19) -> None:
    exporter = _Exporter()
    exporter.start()
    plan = [("gap", quiet), ("back", quiet + gap), ("burn", quiet + gap + after_gap),
            ("stop", quiet + gap + after_gap + burn)]
    marks: dict[str, float] = {}
    burners: list[subprocess.Popen[bytes]] = []
    start = time.time()
    with open(path, "w") as out:
        try:
            while (elapsed := time.time() - start) < plan[-1][1] + after:
                for step, at in plan:
                    if elapsed < at or step in marks:
                        continue
                    marks[step] = time.time()
                    if step == "gap":
                        exporter.stop()
                    elif step == "back":
                        exporter.start()
                    elif step == "burn":
                        burners = [subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c",
                                                    "while True: pass"])
                                   for _ in range(2 * (os.cpu_count() or 1))]
                    else:
                        for p in burners:
                            p.kill()
                            p.wait()
                if "gap" in marks and "back" not in marks:
                    time.sleep(SCRAPE_S)
                    continue
                text = httpx.get(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5).text
                ts = time.time()
                out.write(json.dumps({"ts": ts, "text": text}) + "\n")
                time.sleep(max(0.0, SCRAPE_S - (time.time() - ts)))
        finally:
            for p in burners:
                p.kill()
            exporter.stop()
            out.write(json.dumps({"marks": marks}) + "\n")
    print(f"marks {marks}")


Scrape = list[tuple[str, dict[str, str], float, str]]


def scrapes(path: str) -> tuple[list[tuple[float, Scrape]], dict[str, float]]:
    """A trace's scrapes (timestamp, samples with their declared type) and step marks,
    parsed once and kept beside the trace (``<path>.parsed``)."""
    cache = path + ".parsed"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        with open(cache, "rb") as handle:
            parsed: tuple[list[tuple[float, Scrape]], dict[str, float]] = pickle.load(handle)
            return parsed
    out: list[tuple[float, Scrape]] = []
    marks: dict[str, float] = {}
    with open(path) as handle:
        for line in handle:
            row = json.loads(line)
            if "marks" in row:
                marks = row["marks"]
                continue
            samples: Scrape = []
            for fam in text_string_to_metric_families(row["text"]):
                samples.extend((s.name, dict(s.labels), s.value, fam.type)
                               for s in fam.samples)
            out.append((row["ts"], samples))
    with open(cache, "wb") as handle:
        pickle.dump((out, marks), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return out, marks


def _run(trace: list[tuple[float, Scrape]], restart_at: float
         ) -> Iterator[tuple[float, Alert]]:
    sem = MetricSemantics()
    alerter = default_metric_alerter()
    restarted = False
    t0 = trace[0][0]
    for ts, scrape in trace:
        if not restarted and ts - t0 >= restart_at:
            restarted = True  # the detect stage resumes from its checkpoint
            blob = pickle.dumps({"alerter": alerter.export_state(), "semantics": sem})
            state = pickle.loads(blob)
            sem = state["semantics"]
            alerter = default_metric_alerter()
            alerter.import_state(state["alerter"])
        samples = [MetricSample(n, dict(lab, job="node"), ts, v) for n, lab, v, _ in scrape]
        cols = MetricColumns.from_samples(samples)
        cols.types.update({s.key: k for s, (_, _, _, k) in zip(samples, scrape, strict=True)
                           if k in DECLARED})
        signals = sem.apply(cols)
        if sem.restarted:
            alerter.relearn(sem.restarted)
        yield from ((ts, a) for a in alerter.process_columns(signals))


def cpu_alert(a: Alert) -> bool:
    """What a CPU burn moves while it runs, as the live test counts it."""
    metric = a.labels.get("metric", "")
    return "cpu" in metric or metric == "node_procs_running"


def replay(path: str, restart_at: float = 30.0) -> dict[str, Any]:
    trace, marks = scrapes(path)
    burn, stop = marks["burn"], marks["stop"]
    events = list(_run(trace, restart_at))
    t0 = trace[0][0]
    quiet = [(t - t0, a) for t, a in events if t < burn and a.status.value == "firing"]
    during = [(t - burn, a) for t, a in events if t >= burn]
    firing: set[str] = set()
    first = last_resolve = None
    resolved_mid = 0
    for t, a in during:
        if not cpu_alert(a):
            continue
        if a.status.value == "firing":
            firing.add(a.fingerprint)
            first = t if first is None else first
        else:
            firing.discard(a.fingerprint)
            resolved_mid += t < stop - burn
            last_resolve = t
    rows = [(n, lab, v, k) for _, s in trace for n, lab, v, k in s]
    return {"marks": {k: round(v - t0, 1) for k, v in marks.items()},
            "quiet": quiet, "quiet_count": Counter(a.labels["metric"] for _, a in quiet),
            "burn": during, "stop_s": stop - burn, "first_cpu_fire_s": first,
            "cpu_resolved_during_burn": resolved_mid, "cpu_firing_at_end": len(firing),
            "last_cpu_resolve_after_stop_s": (None if last_resolve is None
                                              else last_resolve - (stop - burn)),
            "cpu": _cpu_shares(trace, burn, stop), "samples": len(rows)}


def _cpu_shares(trace: list[tuple[float, Scrape]], burn: float, stop: float
                ) -> dict[str, tuple[float, ...]]:
    """Mean share of each CPU mode (all CPUs) before, during and after the burn."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for ts, scrape in trace:
        for name, labels, value, _ in scrape:
            if name == "node_cpu_seconds_total":
                series[(labels["cpu"], labels["mode"])].append((ts, value))
    shares: dict[str, list[list[float]]] = defaultdict(lambda: [[], [], []])
    for (_, mode), pts in series.items():
        for i, (a, b) in enumerate(((burn - 20, burn), (burn + 2, stop), (stop + 5, stop + 40))):
            inside = [p for p in pts if a <= p[0] < b]
            if len(inside) > 1 and inside[-1][1] >= inside[0][1]:
                shares[mode][i].append((inside[-1][1] - inside[0][1])
                                       / (inside[-1][0] - inside[0][0]))
    return {m: tuple(round(sum(x) / len(x), 3) if x else float("nan") for x in v)
            for m, v in shares.items()}


def _show(a: Alert) -> str:
    extra = {k: v for k, v in a.labels.items() if k not in (
        "alertname", "instance", "job", "service", "severity", "metric")}
    return (f"{a.status.value:8s} {a.labels['metric']} {extra} value={a.annotations.get('value')}"
            f" expected={a.annotations.get('expected_low')}..{a.annotations.get('expected_high')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("path")
    rec.add_argument("--quiet", type=float, default=60.0)
    rec.add_argument("--gap", type=float, default=30.0)
    rec.add_argument("--after-gap", type=float, default=60.0)
    rec.add_argument("--burn", type=float, default=40.0)
    rec.add_argument("--after", type=float, default=60.0)
    rec.add_argument("--nice", type=int, default=19,
                     help="the burner's niceness (0 to compete with other work as equals)")
    rep = sub.add_parser("replay")
    rep.add_argument("paths", nargs="+")
    rep.add_argument("--restart-at", type=float, default=30.0)
    rep.add_argument("--brief", action="store_true", help="counts only, no alert lines")
    args = parser.parse_args()
    if args.cmd == "record":
        record(args.path, args.quiet, args.gap, args.after_gap, args.burn, args.after,
               args.nice)
        return
    for path in args.paths:
        got = replay(path, args.restart_at)
        print(f"== {path}: marks {got['marks']}")
        print("CPU share by mode (before, during, after the burn):",
              {m: v for m, v in got["cpu"].items() if m in ("user", "system", "idle")})
        print(f"quiet: {len(got['quiet'])} alerts:", dict(got["quiet_count"]))
        if not args.brief:
            for t, a in got["quiet"]:
                print(f"  {t:7.1f} s {_show(a)}")
        print(f"burn: first CPU alert after {got['first_cpu_fire_s']} s, resolved during "
              f"the burn {got['cpu_resolved_during_burn']}, last resolve "
              f"{got['last_cpu_resolve_after_stop_s']} s after the stop "
              f"({got['stop_s']:.0f} s), still firing {got['cpu_firing_at_end']}")
        if not args.brief:
            for t, a in got["burn"]:
                print(f"  {t:+7.1f} s {_show(a)}")


if __name__ == "__main__":
    main()
