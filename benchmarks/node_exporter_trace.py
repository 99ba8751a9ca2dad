"""Real node-exporter data through the detect stage's path, recorded once and replayed.

``record`` starts Debian's ``prometheus-node-exporter``, scrapes it every 250 ms for a
quiet phase, runs a CPU burner (two busy loops per CPU) and scrapes on after it stops;
the samples, their declared types and the phase marks go to a pickle. ``replay`` feeds
the trace, one scrape per batch, through the metric semantics and the default alerter
(as the detect stage does, with the types remote_write metadata would carry) and prints
every alert of the quiet phase and of the burn. A replay is deterministic, so two builds
can be compared on the same real data::

    python benchmarks/node_exporter_trace.py record trace.pkl --quiet 180 --burn 30 --after 60
    python benchmarks/node_exporter_trace.py replay trace.pkl

The CPU share each mode had in each phase is printed too: on a machine already saturated by
other work a burner changes no CPU share, and only an idle machine tests the burn.
"""

from __future__ import annotations

import argparse
import os
import pickle
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aiops.model import MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.semantics import MetricSemantics

SCRAPE_S = 0.25
DECLARED = ("counter", "gauge", "histogram", "summary")


def record(path: str, quiet: float, burn: float, after: float) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exporter = subprocess.Popen(["prometheus-node-exporter",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    rows: list[tuple[float, str, dict[str, str], float, str]] = []
    marks: dict[str, float] = {}
    burners: list[subprocess.Popen[bytes]] = []
    start = time.time()
    try:
        while (elapsed := time.time() - start) < quiet + burn + after:
            if elapsed >= quiet and "burn" not in marks:
                marks["burn"] = time.time()
                burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                           for _ in range(2 * (os.cpu_count() or 1))]
            if elapsed >= quiet + burn and "stop" not in marks:
                marks["stop"] = time.time()
                for p in burners:
                    p.kill()
                    p.wait()
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            ts = time.time()
            for fam in text_string_to_metric_families(text):
                rows.extend((ts, s.name, dict(s.labels), s.value, fam.type)
                            for s in fam.samples)
            time.sleep(max(0.0, SCRAPE_S - (time.time() - ts)))
    finally:
        for p in burners:
            p.kill()
        exporter.terminate()
    with open(path, "wb") as handle:
        pickle.dump({"rows": rows, "marks": marks}, handle)
    print(f"{len(rows)} samples, marks {marks}")


def replay(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        trace = pickle.load(handle)
    scrapes: dict[float, list[tuple[str, dict[str, str], float, str]]] = defaultdict(list)
    for ts, name, labels, value, kind in trace["rows"]:
        scrapes[ts].append((name, labels, value, kind))
    burn, stop = trace["marks"]["burn"], trace["marks"]["stop"]
    sem = MetricSemantics()
    alerter = default_metric_alerter()
    events: list[tuple[float, Any]] = []
    for ts in sorted(scrapes):
        samples = [MetricSample(n, dict(lab, job="node"), ts, v) for n, lab, v, _ in scrapes[ts]]
        cols = MetricColumns.from_samples(samples)
        cols.types.update({s.key: k for s, (_, _, _, k) in zip(samples, scrapes[ts], strict=True)
                           if k in DECLARED})
        signals = sem.apply(cols)
        if sem.restarted:
            alerter.relearn(sem.restarted)
        events.extend((ts, a) for a in alerter.process_columns(signals))
    quiet = [a for t, a in events if t < burn and a.status.value == "firing"]
    during = [(t - burn, a) for t, a in events if t >= burn]
    return {"quiet": Counter(a.labels["metric"] for a in quiet), "burn": during,
            "stop_s": stop - burn, "cpu": _cpu_shares(trace["rows"], burn, stop)}


def _cpu_shares(rows: list[Any], burn: float, stop: float) -> dict[str, tuple[float, ...]]:
    """Mean share of each CPU mode (all CPUs) before, during and after the burn."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for ts, name, labels, value, _ in rows:
        if name == "node_cpu_seconds_total":
            series[(labels["cpu"], labels["mode"])].append((ts, value))
    shares: dict[str, list[list[float]]] = defaultdict(lambda: [[], [], []])
    for (_, mode), pts in series.items():
        for i, (a, b) in enumerate(((burn - 60, burn), (burn + 2, stop), (stop + 5, stop + 60))):
            inside = [p for p in pts if a <= p[0] < b]
            if len(inside) > 1:
                shares[mode][i].append((inside[-1][1] - inside[0][1])
                                       / (inside[-1][0] - inside[0][0]))
    return {m: tuple(round(sum(x) / len(x), 3) if x else float("nan") for x in v)
            for m, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("path")
    rec.add_argument("--quiet", type=float, default=180.0)
    rec.add_argument("--burn", type=float, default=30.0)
    rec.add_argument("--after", type=float, default=60.0)
    rep = sub.add_parser("replay")
    rep.add_argument("path")
    args = parser.parse_args()
    if args.cmd == "record":
        record(args.path, args.quiet, args.burn, args.after)
        return
    got = replay(args.path)
    print("CPU share by mode (quiet, burn, after):", got["cpu"])
    print(f"quiet phase: {sum(got['quiet'].values())} alerts:", dict(got["quiet"]))
    print(f"burn (0 s) to stop ({got['stop_s']:.0f} s) and after:")
    for t, a in got["burn"]:
        print(f"  {t:+7.1f} s {a.status.value:8s} {a.labels['metric']} "
              f"value={a.annotations.get('value')} expected={a.annotations.get('expected_low')}"
              f"..{a.annotations.get('expected_high')}")


if __name__ == "__main__":
    main()
