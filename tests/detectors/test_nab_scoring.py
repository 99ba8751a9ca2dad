"""NAB scoring on a hand-made case whose score was worked out by hand, and the CLI."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli_backtest import app
from detectors.nab.scoring import PROFILES, file_rows, probation_length, sweep

# 20 rows: probation is floor(0.15 * 20) = 3 rows; one window over rows 10..13 (width 4).
# Scores: row 1 = 1.0 (in probation: ignored), row 5 = 0.8 (before any window: costs the
# full A_FP), row 11 = 0.9 (second row of the window: position -(13 - 11 + 1) / 4 = -0.75),
# row 17 = 0.95 (after the window: position |17 - 13| / (4 - 1) = 4/3).
#
# By hand: sigmoid(x) = 1 / (1 + e^-x); scaled(p) = 2 sigmoid(-5p) - 1.
#   TP weight = scaled(-0.75) / scaled(-1) = (2 * 0.977023 - 1) / (2 * 0.993307 - 1)
#             = 0.954045 / 0.986614 = 0.966988
#   row 17    = scaled(4/3) = 2 * 0.0012706 - 1 = -0.997459
# The sweep's best threshold is 0.9 (rows 17 and 11 detected, row 5 not):
#   standard:           0.966988 - 0.11 * 0.997459 = 0.857267; null -1, perfect 1
#                       -> 100 * 1.857267 / 2 = 92.863
#   reward_low_FP_rate: 0.966988 - 0.22 * 0.997459 = 0.747547 -> 100 * 1.747547 / 2 = 87.377
#   reward_low_FN_rate: 0.857267; null -2, perfect 1 -> 100 * 2.857267 / 3 = 95.242
SCORES = [0.0] * 20
SCORES[1], SCORES[5], SCORES[11], SCORES[17] = 1.0, 0.8, 0.9, 0.95
WINDOW = (10, 13)
BY_HAND = {"standard": 92.863, "reward_low_FP_rate": 87.377, "reward_low_FN_rate": 95.242}


def test_probation_length() -> None:
    assert probation_length(20) == 3
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_hand_made_case(profile: object) -> None:
    result = sweep([file_rows(SCORES, [WINDOW])], profile)  # type: ignore[arg-type]
    assert result.threshold == 0.9
    assert result.normalized == pytest.approx(BY_HAND[result.profile], abs=1e-3)


def test_null_and_perfect_detectors_score_0_and_100() -> None:
    # on a realistic length, flagging every row costs far more than missing the window
    null = sweep([file_rows([0.5] * 400, [(200, 239)])], PROFILES[0])
    assert null.normalized == 0.0
    assert null.threshold == float("inf")
    perfect = [0.0] * 400
    perfect[200] = 1.0
    result = sweep([file_rows(perfect, [(200, 239)])], PROFILES[0])
    assert result.normalized == pytest.approx(100.0)


def test_extra_detections_in_a_window_cost_nothing_and_earlier_is_better() -> None:
    late = [0.0] * 20
    late[13] = 1.0
    late_score = sweep([file_rows(late, [WINDOW])], PROFILES[0]).raw
    both = list(late)
    both[11] = 1.0
    both_score = sweep([file_rows(both, [WINDOW])], PROFILES[0]).raw
    assert both_score > late_score
    assert both_score == pytest.approx(0.966988, abs=1e-5)
    # the last row of a window: position -1/4
    assert late_score == pytest.approx((2 / (1 + math.exp(-1.25)) - 1) / 0.986614, abs=1e-5)


def test_one_threshold_for_the_whole_corpus() -> None:
    # file A is best served by 0.9, file B by 0.5; the corpus gets one threshold
    a = file_rows(SCORES, [WINDOW])
    b_scores = [0.0] * 20
    b_scores[12] = 0.5
    b = file_rows(b_scores, [WINDOW])
    result = sweep([a, b], PROFILES[0])
    assert result.threshold == 0.5
    assert result.fn_windows == 0


def _write_corpus(root: Path) -> tuple[Path, Path, Path]:
    start = datetime(2014, 4, 1, tzinfo=UTC)
    stamps = [(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")
              for i in range(20)]
    data = root / "data" / "artificial"
    results = root / "results" / "artificial"
    data.mkdir(parents=True)
    results.mkdir(parents=True)
    with (data / "case.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows([s, float(i)] for i, s in enumerate(stamps))
    with (results / "case.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score"])
        w.writerows([s, float(i), SCORES[i]] for i, s in enumerate(stamps))
    labels = root / "combined_windows.json"
    labels.write_text(json.dumps({"artificial/case.csv": [[stamps[10] + ".000000",
                                                           stamps[13] + ".000000"]]}))
    return root / "data", root / "results", labels


def test_cli_scores_result_files(tmp_path: Path) -> None:
    _data, results, labels = _write_corpus(tmp_path)
    out = CliRunner().invoke(app, ["score", str(results), "--labels", str(labels), "--json"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.output)
    for name, expected in BY_HAND.items():
        assert printed[name]["score"] == pytest.approx(expected, abs=0.01)


def test_cli_runs_a_detector_and_writes_nab_result_files(tmp_path: Path) -> None:
    data, _results, labels = _write_corpus(tmp_path)
    out_dir = tmp_path / "ours"
    out = CliRunner().invoke(app, ["nab", str(data), "--out", str(out_dir),
                                   "--detector", "zscore"])
    assert out.exit_code == 0, out.output
    with (out_dir / "artificial" / "case.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 21
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    scored = CliRunner().invoke(app, ["score", str(out_dir), "--labels", str(labels)])
    assert scored.exit_code == 0
    assert "standard" in scored.output
    bad = CliRunner().invoke(app, ["nab", str(data), "--out", str(out_dir),
                                   "--detector", "nope"])
    assert bad.exit_code != 0
