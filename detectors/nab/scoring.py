"""NAB's scoring protocol, written from its published description.

Per file, the first ``min(floor(0.15 * n), 750)`` rows are probation and not scored. Each
labelled window is worth ``A_TP`` if detected at its first row, less the later the first
detection comes (a scaled sigmoid of the relative position in the window: earlier is
better; further detections in the same window change nothing), and ``-A_FN`` if missed.
A detection outside every window costs ``A_FP`` times a scaled sigmoid of its distance past
the end of the preceding window (right after a window it costs almost nothing, three window
widths after it the full weight; before any window, the full weight). A row is a detection
when its score is at or above the threshold; the threshold is swept over every distinct
score of the corpus and the best corpus total is kept (one threshold for the whole corpus
and profile). The total is normalised so that the null detector (detects nothing) scores 0
and the perfect detector (each window's first row) scores 100.

The sweep is vectorised: every scorable row gets its sweep weight once, rows are sorted by
score, false-positive weights accumulate with a cumulative sum, and a window's worth at a
threshold is the weight of its earliest detected row (the largest, since the sigmoid falls
with position), tracked as a grouped running maximum.

>>> scaled_sigmoid(-1.0) > 0.98, scaled_sigmoid(0.0), scaled_sigmoid(3.0)
(True, 0.0, -1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Profile:
    """NAB's application profile: the cost matrix weights."""

    name: str
    tp: float
    fn: float
    fp: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", tp=1.0, fn=1.0, fp=0.11),
    Profile("reward_low_FP_rate", tp=1.0, fn=1.0, fp=0.22),
    Profile("reward_low_FN_rate", tp=1.0, fn=2.0, fp=0.11),
)


def scaled_sigmoid(position: float) -> float:
    """``2 * sigmoid(-5 x) - 1``, and exactly -1 from three widths past a window on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid_array(position: FloatArray) -> FloatArray:
    out: FloatArray = 2.0 / (1.0 + np.exp(np.minimum(5.0 * position, 700.0))) - 1.0
    out[position >= 3.0] = -1.0
    return out


def probation_length(n_rows: int, fraction: float = 0.15) -> int:
    """Rows at the start of a file that are not scored: ``min(floor(0.15 n), 0.15 * 5000)``."""
    return int(min(math.floor(fraction * n_rows), fraction * 5000))


@dataclass(frozen=True, slots=True)
class FileRows:
    """What the sweep needs of one file: scorable rows' weights, scores and window ids.

    ``window`` is -1 for rows outside every window; ``tp_weight``/``fp_weight`` are the
    unit sweep weights (before the profile's ``A_TP``/``A_FP``).
    """

    scores: FloatArray
    window: npt.NDArray[np.int64]
    unit: FloatArray
    n_windows: int


def file_rows(scores: Sequence[float] | FloatArray, windows: Sequence[tuple[int, int]],
              probation_fraction: float = 0.15) -> FileRows:
    """Sweep weights of one file's rows. ``windows`` are inclusive (first, last) row indexes.

    Inside a window the weight is ``scaled_sigmoid(-(last - i + 1) / width) /
    scaled_sigmoid(-1)``; outside, ``scaled_sigmoid(|i - last_prev| / (width_prev - 1))``, or
    ``-1`` before the first window.
    """
    s = np.asarray(scores, dtype=np.float64)
    n = s.shape[0]
    window = np.full(n, -1, dtype=np.int64)
    unit = np.full(n, -1.0)
    idx = np.arange(n, dtype=np.float64)
    max_tp = scaled_sigmoid(-1.0)
    ordered = sorted(windows)
    for w, (first, last) in enumerate(ordered):
        width = float(last - first + 1)
        inside = slice(first, last + 1)
        window[inside] = w
        unit[inside] = _scaled_sigmoid_array(-(last - idx[inside] + 1.0) / width) / max_tp
        nxt = ordered[w + 1][0] if w + 1 < len(ordered) else n
        after = slice(last + 1, nxt)
        if width > 1:
            unit[after] = _scaled_sigmoid_array(np.abs(idx[after] - last) / (width - 1.0))
    keep = np.arange(n) >= probation_length(n, probation_fraction)
    scored_windows = np.unique(window[keep & (window >= 0)])
    remap = np.full(len(ordered) + 1, -1, dtype=np.int64)
    remap[scored_windows] = np.arange(scored_windows.shape[0])
    return FileRows(scores=s[keep], window=remap[window[keep]], unit=unit[keep],
                    n_windows=int(scored_windows.shape[0]))


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The best threshold of a corpus for one profile, raw and normalised."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn_windows: int

    @property
    def normalized(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def sweep(files: Sequence[FileRows], profile: Profile) -> SweepResult:
    """Sweep one threshold over the whole corpus and keep the best total."""
    offsets = np.cumsum([0] + [f.n_windows for f in files])
    n_windows = int(offsets[-1])
    scores = np.concatenate([f.scores for f in files]) if files else np.zeros(0)
    window = np.concatenate([np.where(f.window >= 0, f.window + offsets[i], -1)
                             for i, f in enumerate(files)]) if files else np.zeros(0, np.int64)
    unit = np.concatenate([f.unit for f in files]) if files else np.zeros(0)
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows
    order = np.argsort(-scores, kind="stable")
    s, w, u = scores[order], window[order], unit[order]
    is_fp = w < 0
    fp_total = np.cumsum(np.where(is_fp, u * profile.fp, 0.0))
    # A window's worth at a threshold is -A_FN until its first detection, then A_TP times
    # the largest unit weight among its detected rows. Accumulate the change per row.
    delta = np.zeros(s.shape[0])
    best = np.full(n_windows, -np.inf)
    for pos in np.flatnonzero(~is_fp).tolist():
        k = w[pos]
        val = u[pos] * profile.tp
        if best[k] == -np.inf:
            delta[pos] = profile.fn + val
            best[k] = val
        elif val > best[k]:
            delta[pos] = val - best[k]
            best[k] = val
    total = null + fp_total + np.cumsum(delta)
    # Only the last row of a run of equal scores is a real threshold.
    last_of_run = np.ones(s.shape[0], dtype=bool)
    last_of_run[:-1] = s[:-1] != s[1:]
    candidates = np.flatnonzero(last_of_run)
    if candidates.size == 0 or total[candidates].max() <= null:
        return SweepResult(profile.name, float("inf"), null, null, perfect, 0, 0, n_windows)
    pick = candidates[int(np.argmax(total[candidates]))]
    detected = w[: pick + 1]
    tp = int((detected >= 0).sum())
    return SweepResult(profile.name, float(s[pick]), float(total[pick]), null, perfect, tp,
                       int((detected < 0).sum()),
                       n_windows - int(np.unique(detected[detected >= 0]).shape[0]))


def score_corpus(files: Mapping[str, FileRows],
                 profiles: Sequence[Profile] = PROFILES) -> dict[str, SweepResult]:
    """Best-threshold results for each profile over every file."""
    rows = [files[k] for k in sorted(files)]
    return {p.name: sweep(rows, p) for p in profiles}
