"""Small versions of the chaos suite (``benchmarks/chaos.py``): the scale-out form (``aiops
broker``, ``aiops api``, ``aiops worker detect|correlate|act``) on the real broker and
PostgreSQL, a local HTTP sink as the notification destination.

* workers killed (SIGKILL/SIGTERM) during a stream of webhooks and metrics end where an
  uninterrupted run of the same input ends: no alert lost, no incident missing, duplicated
  or in another state, no notification missing or extra;
* poison on every input topic and a storm webhook kill no worker; the dead letters fit the
  broker and the storm incident is served by the API and the feed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import chaos

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


def test_killed_workers_end_as_an_uninterrupted_run() -> None:
    report = chaos.kills(replicas=1, target=6, incidents=5, pace=0.4, seed=3)
    assert report["kills"] == 6 and report["worker_deaths"] == 0
    assert report["alerts_expected"] > 0 and report["incidents_expected"] == 5
    assert report["notifications_expected"] >= 12
    problems = {k: v for k, v in report.items()
                if k in ("alerts_lost", "incidents_missing", "incidents_extra",
                         "incidents_other_state", "notifications_missing",
                         "notifications_extra") and v}
    assert problems == {}, report


def test_poison_on_every_topic_kills_no_worker() -> None:
    report = chaos.poison(big=2_000, settle_s=30)
    assert report["worker_deaths"] == 0, report
    # all but one: a 300-character alert name and service is valid input (stored cut to
    # the columns' widths)
    assert report["dead_letters"] >= report["poison_records"] - 1, report
    assert report["largest_dead_letter"] <= 1_000_000
    assert report["storm_alerts_api"] == 2_000
    assert report["storm_feed_counts"]["alerts"] == 2_000
    assert report["storm_feed_largest"] < 1_000_000
