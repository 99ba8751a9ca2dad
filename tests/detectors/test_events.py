"""Event-level counting and episode-aware onsets used by the detection evaluation."""

from __future__ import annotations

import numpy as np

from detectors.nab.events import count_events, policy_fires
from detectors.policy import AlertPolicy
from detectors.postprocess import OnsetFilter

POLICY = AlertPolicy(threshold=0.5, clear_threshold=0.3, for_count=2, resolve_count=5)


def test_an_alert_fires_once_per_episode_and_again_after_it_resolves() -> None:
    s = np.zeros(60)
    s[10:20] = 0.9  # one episode: one alert however long it lasts
    s[40:43] = 0.9  # after five calm points it has resolved: a second alert
    fires = policy_fires(np.arange(60.0), s, POLICY)
    assert fires.tolist() == [11.0, 41.0]


def test_a_single_hot_point_does_not_fire_with_for_count_two() -> None:
    s = np.zeros(30)
    s[5] = 0.99
    assert policy_fires(np.arange(30.0), s, POLICY).size == 0


def test_windows_found_and_false_alerts_counted() -> None:
    fires = np.array([5.0, 12.0, 30.0, 31.0])
    c = count_events(fires, [(4.0, 6.0), (10.0, 11.0), (29.0, 35.0)])
    assert (c.found, c.windows, c.alerts, c.false_alerts) == (2, 3, 4, 1)
    assert c.precision == 0.75 and abs(c.recall - 2 / 3) < 1e-12


def _onsets(f: OnsetFilter, s: np.ndarray) -> np.ndarray:
    return f.score_learn_many(np.zeros(s.shape[0], dtype=np.int64), np.arange(float(s.size)), s)


def test_episode_onsets_rearm_when_the_episode_ends_the_fixed_hold_does_not() -> None:
    s = np.zeros(80)
    s[10:15] = 0.7
    s[40:45] = 0.6  # a second, weaker episode well after the first calmed down
    episode = _onsets(OnsetFilter(rearm_ratio=0.6, rearm_count=5), s)
    hold = _onsets(OnsetFilter(), s)
    assert episode[10] == 0.7 and episode[40] == 0.6  # both onsets count
    assert hold[10] == 0.7 and hold[40] < 0.01  # the 100-point hold hides the second
    assert episode[11:15].max() < 0.01  # the rest of an episode is not news


def test_inside_an_episode_only_a_decade_higher_is_a_new_onset() -> None:
    s = np.zeros(40)
    s[10:16] = [0.60, 0.62, 0.66, 0.75, 0.74, 0.74]  # one episode, rising by steps
    f = OnsetFilter(rearm_ratio=0.6, rearm_count=5, rise=0.1)
    out = _onsets(f, s)
    assert out[10] == 0.6  # the onset
    assert out[11] < 0.01 and out[12] < 0.01  # a little higher is the same episode
    assert out[13] == 0.75  # ten times less probable than the onset: news again
    plain = _onsets(OnsetFilter(rearm_ratio=0.6, rearm_count=5), s)
    assert (plain[10:14] >= 0.6).sum() == 4  # without the margin every rise counts
