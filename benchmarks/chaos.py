"""Chaos suite for the scale-out form: kills, poison and a soak, on the real broker and
PostgreSQL, with a local HTTP sink as the notification destination.

Run by hand (results in BENCHMARKS.md):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py kills --replicas 1 --kills 60
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py kills --replicas 2 --kills 60
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py poison
    PYTHONPATH=$PWD .venv/bin/python benchmarks/chaos.py soak --minutes 30

Every run starts its own ``aiops broker``, ``aiops api`` and ``aiops worker detect|correlate|
act`` processes (``--replicas`` of each worker) on a fresh PostgreSQL schema, and a webhook
destination served by this process, which counts deliveries by ``Idempotency-Key``.

* ``kills``: the same stream of Alertmanager webhooks (incidents that open, escalate, resolve,
  reopen and resolve again; event times compressed) and metrics is played twice at the same
  pace: once uninterrupted, once while random workers are killed (80 % SIGKILL, 20 % SIGTERM)
  and restarted. Compared: alerts stored, incidents (by id: members and final status) and
  notification keys delivered (missing, extra, deliveries per key). Workers that exit on their
  own are counted as deaths.
* ``poison``: oversized, non-UTF-8, out-of-range, NUL, huge-label and malformed records on
  every input topic, and a 20,000-alert webhook; then counts worker deaths (must be 0), the
  dead letters, and checks that the 20,000-alert incident is served by the API and the feed.
* ``soak``: one incident that grows by webhooks of new alerts for ``--minutes``; samples each
  worker's RSS and the correlate group's lag; then checks lag back to 0 and the incident in
  the API and on the feed.

The parts: ``chaos_cluster`` (the processes and the webhook sink), ``chaos_input`` (the
scenario and the metric stream), ``chaos_outcome`` (lag, settling, comparison) and one
module per run (``chaos_kills``, ``chaos_poison``, ``chaos_soak``).
``tests/aiops/test_chaos.py`` runs small versions of ``kills`` and ``poison``.
"""

from __future__ import annotations

import argparse
import json

from chaos_kills import kills
from chaos_poison import poison
from chaos_soak import soak

__all__ = ["kills", "poison", "soak"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kills")
    k.add_argument("--replicas", type=int, default=1)
    k.add_argument("--kills", type=int, default=60)
    k.add_argument("--incidents", type=int, default=40)
    k.add_argument("--pace", type=float, default=1.2, help="seconds between webhooks")
    sub.add_parser("poison")
    s = sub.add_parser("soak")
    s.add_argument("--minutes", type=float, default=30)
    s.add_argument("--batch", type=int, default=20, help="new alerts per webhook")
    s.add_argument("--pace", type=float, default=1.5, help="seconds between webhooks")
    args = parser.parse_args()
    if args.what == "kills":
        result = kills(args.replicas, args.kills, args.incidents, args.pace)
    elif args.what == "poison":
        result = poison()
    else:
        result = soak(args.minutes, args.batch, args.pace)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
