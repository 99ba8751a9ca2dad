"""Which series to learn afresh after a gap: only those whose source restarted.

A series that comes back after an outage (a gap of many intervals) or a stale marker may
come from a new process, whose memory, threads and connections the old history does not
describe; or from the same source, seen again after the network or the scraper was away, in
which case throwing its history away costs a re-warm (and a day's seasonal profile) and
leaves a young, easily surprised series behind. What tells them apart is a counter: a new
process starts its counters from zero. So a returning series is learnt afresh when a
counter of its *source* was reset in the same scrape: the same target (its ``job``,
``instance`` and ``service`` labels) and the same namespace (the name's first word).
node-exporter restarted after a gap is the case that needs both halves: its own process's
counters (``process_cpu_seconds_total``, ``go_memstats_*_total``) reset, so its
``process_*`` and ``go_*`` gauges are learnt afresh; the machine's ``node_*`` counters kept
counting through the gap, so everything ``node_*`` keeps its history. A series whose own
counter reset is always learnt afresh. A source with no counter at all keeps its history.

>>> judge = RestartJudge()
>>> judge.returned(("node", "process"), 'process_resident_memory_bytes{job="node"}', 50.0)
[]
>>> judge.reset(("node", "process"), 50.0)
['process_resident_memory_bytes{job="node"}']
>>> judge.returned(("node", "node"), 'node_load1{job="node"}', 50.0)  # no reset in node_*
[]
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

#: labels naming the target a series comes from
TARGET_LABELS = ("job", "instance", "service")
#: how far apart two points may be and still belong to one scrape
SAME_SCRAPE_S = 1e-3


def source(name: str, labels: Mapping[str, str]) -> tuple[str, ...]:
    """The target and namespace a series belongs to.

    >>> source("go_memstats_frees_total", {"job": "node", "instance": "h:9100", "cpu": "0"})
    ('node', 'h:9100', '', 'go')
    """
    return (*(labels.get(k, "") for k in TARGET_LABELS), name.split("_", 1)[0])


class RestartJudge:
    """Pairs series returning after a gap with counter resets of their source (plain data,
    picklable: it is checkpointed with the semantics)."""

    def __init__(self) -> None:
        self._reset_at: dict[Hashable, float] = {}  # source -> newest reset's timestamp
        self._waiting: dict[Hashable, dict[str, float]] = {}  # source -> key -> return ts

    def reset(self, src: Hashable, ts: float) -> list[str]:
        """A counter of ``src`` was reset at ``ts``: the series of ``src`` that returned in
        that scrape, to learn afresh."""
        self._reset_at[src] = max(ts, self._reset_at.get(src, ts))
        waiting = self._waiting.get(src)
        if not waiting:
            return []
        fresh = [k for k, t in waiting.items() if abs(t - ts) <= SAME_SCRAPE_S]
        for key in fresh:
            del waiting[key]
        return fresh

    def returned(self, src: Hashable, key: str, ts: float) -> list[str]:
        """Series ``key`` of ``src`` came back at ``ts`` after a gap: ``[key]`` if its
        source was reset in that scrape, else nothing (it waits for a reset seen later)."""
        at = self._reset_at.get(src)
        if at is not None and abs(at - ts) <= SAME_SCRAPE_S:
            return [key]
        self._waiting.setdefault(src, {})[key] = ts
        return []

    def forget_before(self, ts: float) -> None:
        """Drop what is older than ``ts`` (a reset or a return that found no pair)."""
        self._reset_at = {s: t for s, t in self._reset_at.items() if t >= ts}
        for src in list(self._waiting):
            kept = {k: t for k, t in self._waiting[src].items() if t >= ts}
            if kept:
                self._waiting[src] = kept
            else:
                del self._waiting[src]
