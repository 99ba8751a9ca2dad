"""Closed loop on the real engine, timed: the same run as ``aiops demo --remediate``.

Fault -> detection -> incident -> Slack sink -> restart -> recovery -> incident resolved ->
action verified, with the time of each step; see :mod:`aiops.demo_loop` for the set-up.

    PYTHONPATH=. python benchmarks/action_closed_loop.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics

from aiops.demo_loop import run_closed_loop


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mttr: list[float] = []
    notify: list[float] = []
    for run in range(args.runs):
        steps = run_closed_loop()
        print(f"run {run + 1}:")
        for name, offset in sorted(steps.items(), key=lambda kv: kv[1]):
            print(f"  +{offset:6.2f}s  {name}")
        if "recovery verified" in steps:
            mttr.append(steps["recovery verified"])
        opened = [v for k, v in steps.items() if k.startswith("incident opened")]
        sent = steps.get("notification received by the Slack sink")
        if opened and sent is not None:
            notify.append(sent - opened[0])
    if mttr:
        print(f"MTTR (fault to verified recovery): median {statistics.median(mttr):.2f}s "
              f"over {len(mttr)} run(s), max {max(mttr):.2f}s")
    if notify:
        print(f"notification after the incident was seen in the store: median "
              f"{statistics.median(notify):+.2f}s (store polled every ~0.25 s)")
    return 0 if len(mttr) == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
