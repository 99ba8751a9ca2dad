from __future__ import annotations

import random

from remediation.learning import MemoryPosteriors, Posterior, ThompsonLearner
from remediation.simulate import simulate_learning


def test_better_action_is_chosen_in_90_percent_of_incidents_after_20() -> None:
    """Target: 90% vs 20% success; after 20 incidents the better one is chosen >= 90%."""
    seeds = range(40)
    after = [c for seed in seeds
             for c in simulate_learning({"good": 0.9, "bad": 0.2}, 40, seed)[20:]]
    share = sum(c == "good" for c in after) / len(after)
    assert share >= 0.9, share


def test_escalates_when_nothing_is_expected_to_work() -> None:
    chosen = simulate_learning({"a": 0.0, "b": 0.0}, 20, seed=3)
    assert chosen[:2].count(None) == 0  # tries first
    assert chosen[-5:] == [None] * 5     # then asks a human


def test_a_failure_streak_disables_only_an_action_that_mostly_fails() -> None:
    store = MemoryPosteriors()
    learner = ThompsonLearner(store, random.Random(0))
    for _ in range(10):
        learner.record("s", "good", True, disable_after=3)
    for _ in range(3):
        good = learner.record("s", "good", False, disable_after=3)
        bad = learner.record("s", "bad", False, disable_after=3)
    assert not good.disabled and bad.disabled
    assert learner.choose("s", ["good", "bad"], escalate_below=0.2).action == "good"
    assert store.get("s", "bad") == Posterior(alpha=1, beta=4, failures=3,
                                              consecutive_failures=3, disabled=True)
