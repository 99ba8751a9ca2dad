"""Running a detector over a NAB corpus and scoring result files.

All files are fed to one detector in a single ``score_learn_many`` call, one series per
file: the detector's rounds then advance every file by one row at a time, so the run is
vectorised across files exactly as the engine is across series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aiops.model import DecodeError
from detectors.base import Detector
from detectors.nab.corpus import (
    iter_files,
    read_labels,
    read_series,
    window_rows,
    write_results,
)
from detectors.nab.scoring import PROFILES, FileRows, Profile, SweepResult, file_rows, sweep


def run_corpus(data_dir: Path, out_dir: Path, detector: Detector) -> list[str]:
    """Score every ``<category>/<name>.csv`` under ``data_dir``; write NAB result files."""
    paths = list(iter_files(data_dir))
    if not paths:
        raise DecodeError(f"no <category>/<name>.csv files under {data_dir}", kind="NAB corpus")
    series = [read_series(data_dir, p) for p in paths]
    keys = np.concatenate([np.full(s.ts.shape[0], i, dtype=np.int64)
                           for i, s in enumerate(series)])
    ts = np.concatenate([s.ts for s in series])
    values = np.concatenate([s.values for s in series])
    scores = detector.score_learn_many(keys, ts, values)
    bounds = np.cumsum([0] + [s.ts.shape[0] for s in series])
    for i, s in enumerate(series):
        write_results(out_dir, s, scores[bounds[i]:bounds[i + 1]])
    return paths


def load_results(results_dir: Path, labels_path: Path) -> dict[str, FileRows]:
    """Sweep inputs of every labelled file found under ``results_dir``."""
    labels = read_labels(labels_path)
    found = set(iter_files(results_dir))
    missing = sorted(set(labels) - found)
    if missing:
        raise DecodeError(f"no results for {', '.join(missing[:5])}", kind="NAB results")
    rows: dict[str, FileRows] = {}
    for rel in sorted(labels):
        s = read_series(results_dir, rel, with_scores=True)
        assert s.scores is not None
        rows[rel] = file_rows(s.scores, window_rows(s.ts, labels[rel]))
    return rows


def score_results(results_dir: Path, labels_path: Path,
                  profiles: tuple[Profile, ...] = PROFILES) -> dict[str, SweepResult]:
    rows = [r for _, r in sorted(load_results(results_dir, labels_path).items())]
    return {p.name: sweep(rows, p) for p in profiles}
