"""Deviation summaries: what the detect stage tells the correlator about every node.

An alert says "a person should look"; a deviation says "this series is far from its own
recent normal", whether or not any alert fired. The correlator keeps the latest ones per node
in a bounded window and reads them when it diagnoses an incident, so a slow callee that never
crossed an alert threshold can still be named as the cause of its callers' alerts.

Series of one *family* (the p50/p90/p95/p99 statistics of one latency, the quantiles or
buckets of one histogram, the pods of one service) move together; the family key drops the
labels that only tell them apart, so a family counts once as evidence.

>>> family_of("latency", {"service": "cart", "statistic": "p99", "pod": "cart-1"})
'latency'
>>> family_of("http_requests", {"service": "cart", "code": "500"})
'http_requests{code=500}'
>>> signal_kind("http_server_duration_seconds"), signal_kind("availability")
('latency', 'errors')
>>> bad_direction("availability"), bad_direction("cpu_usage"), bad_direction("requests")
(-1, 1, 0)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiops.model.errors import DecodeError

#: Labels that tell apart the members of one family: statistics, quantiles, buckets, and the
#: instances of one service (pods fold into their service).
FAMILY_LABELS = frozenset({
    "statistic", "stat", "quantile", "percentile", "le", "service", "job", "app", "pod",
    "instance", "container", "pod_name", "host", "node", "__name__",
})

# Generic metric naming words, in the order they are tried (first match wins): a series
# name says what kind of signal it is and which way is bad for it.
_KIND_WORDS: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("errors", -1, re.compile(r"availab|success|uptime|apdex|(^|_)up($|_)|healthy|ready")),
    ("errors", 1, re.compile(r"error|fail|5xx|exception|fault|reject|timeout|panic|crash|"
                             r"restart|oom|kill")),
    ("saturation", 1, re.compile(r"cpu|mem|heap|(^|_)gc_|disk|(^|_)io(_|$)|thread|throttl|"
                                 r"saturat|(^|_)load|queue|conn|(^|_)fd|swap|pool|util")),
    ("latency", 1, re.compile(r"latenc|duration|response_time|_time|delay|(^|_)rt($|_)|"
                              r"_ms($|_)|seconds|wait")),
    ("traffic", 0, re.compile(r"request|rps|qps|throughput|count|calls|rate|bytes|"
                              r"packets|received|sent|total")),
)


def _kind_entry(name: str) -> tuple[str, int]:
    low = name.lower().replace(".", "_").replace("-", "_")
    if low.endswith("_count") and not _KIND_WORDS[1][2].search(low):
        return "traffic", 0  # a histogram's count is how many, not how slow
    for kind, direction, pattern in _KIND_WORDS:
        if pattern.search(low):
            return kind, direction
    return "other", 0


def signal_kind(name: str) -> str:
    """``latency``, ``errors``, ``saturation``, ``traffic`` or ``other``, from the name."""
    return _kind_entry(name)[0]


def bad_direction(name: str) -> int:
    """+1 when a rise is bad (latency, errors, saturation), -1 when a fall is (availability,
    success ratio), 0 when either may be (traffic, unknown)."""
    return _kind_entry(name)[1]


def family_of(name: str, labels: Mapping[str, str]) -> str:
    """The series' family within its node: the name plus the labels that are not statistics,
    quantiles, buckets or instance names."""
    rest = sorted((k, v) for k, v in labels.items() if k not in FAMILY_LABELS)
    if not rest:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in rest) + "}"


def series_text(name: str, labels: Mapping[str, str]) -> str:
    """A short human name of the series: ``latency p99``, ``cpu (cart-1)``."""
    stat = labels.get("statistic") or labels.get("quantile") or labels.get("stat") or ""
    inst = labels.get("pod") or labels.get("instance") or ""
    out = name if not stat else f"{name} {stat}"
    return f"{out} ({inst})" if inst else out


@dataclass(frozen=True, slots=True)
class Deviation:
    """One series of ``node`` far from its own recent normal at ``ts``.

    ``z`` is the robust z-score ``(value - expected) / scale`` with ``expected`` the median of
    the series' recent history and ``scale`` its MAD (scaled to a standard deviation);
    ``since`` is when the series first crossed the deviation level in this run (the time it
    moved); ``kind`` is the signal kind (:func:`signal_kind`) and ``bad`` whether the move is
    in the harmful direction for that kind (a latency that drops is not a fault).

    ``usual`` is the series' usual excursion: how far from ``expected`` it strays in an
    ordinary stretch of its history (a high quantile of its distances from the median, in
    the series' own unit; 0 when unknown). The MAD says how wide the bulk of the series
    is; the usual excursion says how far its routine spikes go. A "5x" on a series that
    spikes 5x every hour is routine, on a flat one it is news: :attr:`excess` and
    :attr:`strength` weigh a move against it, and :attr:`routine` says it did not leave it.
    ``rise`` is the largest |value - expected| among the family's deviating series (its
    statistics: p50 to p99, Average), so that two nodes' moves can be compared on the
    statistic that moved most on each, whichever one was the strongest by z (0: unknown,
    read |value - expected|; see :attr:`moved`).
    """

    node: str
    family: str
    series: str
    kind: str
    value: float
    expected: float
    z: float
    since: float
    ts: float
    bad: bool = True
    usual: float = 0.0
    rise: float = 0.0

    @property
    def excess(self) -> float:
        """How far the move went in units of the series' usual excursion (|z| when that is
        unknown or zero: a series that never strayed is judged by its spread alone).

        >>> Deviation("a", "f", "f", "latency", 5.0, 1.0, 40.0, 0, 0, usual=2.0).excess
        2.0
        """
        if self.usual > 0.0:
            return abs(self.value - self.expected) / self.usual
        return abs(self.z)

    @property
    def moved(self) -> float:
        """How far the family moved in its own unit (:attr:`rise`, or this series' move).

        >>> Deviation("a", "f", "f", "latency", 5.0, 1.0, 40.0, 0, 0).moved
        4.0
        """
        return max(self.rise, abs(self.value - self.expected))

    @property
    def routine(self) -> bool:
        """Whether the move stayed within the series' usual excursion: it says nothing that
        the series does not say every day, so it corroborates nothing.

        >>> Deviation("a", "f", "f", "latency", 5.0, 1.0, 40.0, 0, 0, usual=6.0).routine
        True
        """
        return self.usual > 0.0 and abs(self.value - self.expected) <= self.usual

    @property
    def strength(self) -> float:
        """The move on a log scale, so one absurd z (a series that was flat) cannot drown the
        rest: ``log1p(|z|)``, weighed down by how routine such moves are for the series
        (scaled by its usual excursion when that is known: a move as far as its usual
        excursion is as strong as z = 1).

        >>> round(Deviation("a", "f", "f", "latency", 2, 1, 100.0, 0, 0).strength, 3)
        4.615
        >>> round(Deviation("a", "f", "f", "latency", 2, 1, 100.0, 0, 0, usual=0.5).strength, 3)
        1.099
        """
        if self.usual > 0.0:
            return math.log1p(min(abs(self.z), self.excess))
        return math.log1p(abs(self.z))

    def ratio(self) -> float | None:
        """value / expected when both are positive (``13.7x``)."""
        if self.expected > 0 and self.value > 0:
            return self.value / self.expected
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "family": self.family, "series": self.series,
                "kind": self.kind, "value": self.value, "expected": self.expected,
                "z": self.z, "since": self.since, "ts": self.ts, "bad": self.bad,
                "usual": self.usual, "rise": self.rise}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Deviation:
        """The inverse of :meth:`to_dict`; :class:`DecodeError` names what is wrong."""
        try:
            return cls(node=str(raw["node"]), family=str(raw["family"]),
                       series=str(raw.get("series", raw["family"])), kind=str(raw["kind"]),
                       value=float(raw["value"]), expected=float(raw["expected"]),
                       z=float(raw["z"]), since=float(raw["since"]), ts=float(raw["ts"]),
                       bad=bool(raw.get("bad", True)), usual=float(raw.get("usual", 0.0)),
                       rise=float(raw.get("rise", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"bad deviation record: {exc!r}") from exc


def encode_deviations(deviations: Sequence[Deviation]) -> bytes:
    """One ``aiops.deviations`` message: ``{"deviations": [...]}``, compact JSON.

    >>> d = Deviation("db", "latency", "latency p95", "latency", 0.4, 0.03, 40.0, 1.0, 2.0)
    >>> decode_deviations(encode_deviations([d])) == [d]
    True
    """
    return json.dumps({"deviations": [d.to_dict() for d in deviations]},
                      separators=(",", ":")).encode()


def decode_deviations(value: bytes) -> list[Deviation]:
    """The inverse of :func:`encode_deviations`; :class:`DecodeError` says what is wrong."""
    try:
        raw = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"deviations message is not JSON: {exc}") from exc
    items = raw.get("deviations") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise DecodeError("deviations message needs a 'deviations' list")
    return [Deviation.from_dict(item) if isinstance(item, dict) else _bad(item)
            for item in items]


def _bad(item: object) -> Deviation:
    raise DecodeError(f"deviation is not an object: {item!r}"[:200])
