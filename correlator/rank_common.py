"""What every ranking strategy shares: who may be a candidate, and the basic evidence line."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

from correlator.types import NodeEvidence


@functools.lru_cache(maxsize=4096)
def _fmt_ts(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def _candidates(evidence: Mapping[str, NodeEvidence]) -> list[NodeEvidence]:
    """Nodes that may be causes: inhibited-only nodes are effects by definition."""
    live = [e for e in evidence.values() if not e.inhibited]
    return live or list(evidence.values())


def _basic_evidence(ev: NodeEvidence) -> str:
    what = ", ".join(sorted(ev.alerts)) or "alerts"
    line = f"{ev.node}: {what} (score {ev.score:.2f}) since {_fmt_ts(ev.onset)}"
    return f"{line}: {ev.summary}" if ev.summary else line
