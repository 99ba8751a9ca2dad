"""Learning target: two candidate actions that fix a fault kind 90% and 20% of the time.

The remediator (Thompson sampling over Beta posteriors, with escalation and disabling) runs
against a simulated world (:func:`remediation.simulate.simulate_learning`); two peers run on
the same worlds in the same process: epsilon-greedy (epsilon 0.1, greedy on the observed
success rate) and uniform random choice.

    /work/venv/bin/python benchmarks/action_learning.py --seeds 500
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remediation.simulate import simulate_learning

P = {"good": 0.9, "bad": 0.2}


def epsilon_greedy(incidents: int, seed: int, epsilon: float = 0.1) -> list[str]:
    rng = random.Random(seed)
    wins = dict.fromkeys(P, 0)
    tries = dict.fromkeys(P, 0)
    chosen = []
    for _ in range(incidents):
        untried = [a for a in P if tries[a] == 0]
        if untried:
            action = untried[0]
        elif rng.random() < epsilon:
            action = rng.choice(list(P))
        else:
            action = max(P, key=lambda a: wins[a] / tries[a])
        tries[action] += 1
        wins[action] += rng.random() < P[action]
        chosen.append(action)
    return chosen


def uniform(incidents: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(list(P)) for _ in range(incidents)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--incidents", type=int, default=100)
    args = parser.parse_args()
    peers = {
        "thompson (remediator)": lambda s: simulate_learning(P, args.incidents, s),
        "epsilon-greedy 0.1": lambda s: epsilon_greedy(args.incidents, s),
        "uniform random": lambda s: uniform(args.incidents, s),
    }
    results = {}
    for name, run in peers.items():
        started = time.perf_counter()
        runs = [run(seed) for seed in range(args.seeds)]
        elapsed = time.perf_counter() - started
        window = [sum(c == "good" for c in r[20:40]) / 20 for r in runs]
        later = [sum(c == "good" for c in r[20:]) / len(r[20:]) for r in runs]
        escalated = sum(c is None for r in runs for c in r)
        results[name] = statistics.mean(window)
        print(f"{name:24s} better action chosen in incidents 21-40: "
              f"{statistics.mean(window):6.1%} (worst seed {min(window):5.1%}, seeds >= 90%: "
              f"{sum(w >= 0.9 for w in window) / len(window):5.1%}); "
              f"21-{args.incidents}: {statistics.mean(later):6.1%}; escalations {escalated}; "
              f"{elapsed / (args.seeds * args.incidents) * 1e6:.0f} us/incident")
    base = results["thompson (remediator)"]
    for name, value in results.items():
        print(f"  ratio thompson / {name}: {base / value:.2f}")


if __name__ == "__main__":
    main()
