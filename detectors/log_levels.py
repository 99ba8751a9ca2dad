"""Log levels and count baselines shared by the log detectors."""

from __future__ import annotations

import math

ERROR_LEVELS = frozenset({"error", "err", "critical", "crit", "fatal", "alert", "emerg",
                          "emergency", "panic", "severe"})


def is_error(level: str) -> bool:
    """Whether a log level is error or above (syslog and common logger spellings)."""
    return level.strip().lower() in ERROR_LEVELS


def poisson_score(count: float, mean: float, var: float) -> tuple[float, float]:
    """(z, score in [0, 1]) of a count against a baseline with a Poisson variance floor."""
    sd = math.sqrt(max(var, mean) + 1.0)
    z = (count - mean) / sd
    return z, (math.erf(z / math.sqrt(2.0)) if z > 0 else 0.0)
