"""What a series is, from its declared type first and its name second.

The kinds (:mod:`detectors.families` numbers them) decide how the detect stage's metric
semantics (:mod:`detectors.semantics`) turns a series into a signal. Bookkeeping is not
scored: series that describe the act of collecting rather than the target move with the
scrape schedule and the scraper's own load, and what they could say (a target down, a slow
scrape) is a Prometheus rule's job, through the Alertmanager receiver:

* ``up`` and every name with a ``scrape``/``scrapes`` word (``scrape_*``, Prometheus' view
  of the scrape; ``node_scrape_collector_duration_seconds``, an exporter timing its own
  collectors; ``*_exporter_scrapes_total``);
* ``promhttp_*``: the exposition handler counting its own ``/metrics`` requests;
* ``*_info``, ``*_created`` and timestamps (``*_time_seconds``, ``*_timestamp_seconds``):
  labels and times, not measurements.

A process's runtime metrics (``go_*``, ``process_*``) are not bookkeeping: for an
application they describe the application (a goroutine or memory leak), and the name cannot
tell an exporter's own process from the service it runs beside. Which series may raise an
alert by itself is :mod:`detectors.catalog`'s question, not this module's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiops.model import series_key
from detectors.families import BUCKET, COUNT, COUNTER, GAUGE, QUANTILE, SKIP, SUM, UNTYPED

_SKIP_SUFFIXES = ("_created", "_info", "_time_seconds", "_timestamp_seconds", "_timestamp")
_SCRAPE_WORDS = frozenset(("scrape", "scrapes"))
_PNN = re.compile(r"^(.+)_p(\d{1,4})$")


@dataclass(slots=True)
class SeriesKind:
    """What one input series is and where its points go."""

    kind: int
    family: str = ""
    group: str = ""
    group_labels: Mapping[str, str] = field(default_factory=dict)
    bound: float = math.nan  # the bucket's ``le`` or the quantile
    slot: int = -1
    declared: str = ""


def classify(name: str, labels: Mapping[str, str], declared: str = "") -> SeriesKind:
    """The kind of a series, from its declared type first and its name second.

    >>> [classify(n, {}).kind == k for n, k in [("up", SKIP), ("node_load1", UNTYPED),
    ...  ("node_scrape_collector_duration_seconds", SKIP), ("go_goroutines", UNTYPED),
    ...  ("node_cpu_seconds_total", COUNTER), ("process_start_time_seconds", SKIP)]]
    [True, True, True, True, True, True]
    >>> b = classify("http_seconds_bucket", {"le": "0.5", "job": "a"})
    >>> b.kind == BUCKET, b.family, b.group, b.bound
    (True, 'http_seconds', 'http_seconds{job="a"}', 0.5)
    >>> q = classify("latency_p99", {"job": "a"})
    >>> q.kind == QUANTILE, q.group, q.bound
    (True, 'latency{job="a"}', 0.99)
    >>> classify("jobs_count", {}, "gauge").kind == GAUGE
    True
    """
    if bookkeeping(name) or declared in ("info", "stateset"):
        return SeriesKind(SKIP)
    if "le" in labels and (name.endswith("_bucket") or declared in ("histogram",
                                                                    "gaugehistogram")):
        family = name.removesuffix("_bucket")
        rest = {k: v for k, v in labels.items() if k != "le"}
        return SeriesKind(BUCKET, family, series_key(family, rest), rest,
                          _float(labels["le"]))
    if "quantile" in labels:
        rest = {k: v for k, v in labels.items() if k != "quantile"}
        return SeriesKind(QUANTILE, name, series_key(name, rest), rest,
                          _float(labels["quantile"]))
    match = _PNN.match(name)
    if match and declared in ("", "gauge", "unknown"):
        digits = match.group(2)
        family = match.group(1)
        return SeriesKind(QUANTILE, family, series_key(family, labels), dict(labels),
                          int(digits) / 10 ** len(digits))
    if declared == "gauge":
        return SeriesKind(GAUGE)
    if declared != "counter":
        for suffix, kind in (("_sum", SUM), ("_count", COUNT)):
            if name.endswith(suffix):
                family = name.removesuffix(suffix)
                return SeriesKind(kind, family, series_key(family, labels), dict(labels))
    if declared == "counter" or name.endswith("_total"):
        return SeriesKind(COUNTER)
    return SeriesKind(UNTYPED if declared in ("", "unknown") else GAUGE)


def bookkeeping(name: str) -> bool:
    """Whether a series describes its own collection (or is a label or a time), not the
    target.

    >>> [bookkeeping(n) for n in ("up", "scrape_samples_scraped", "mysql_exporter_scrapes_total",
    ...  "promhttp_metric_handler_requests_total", "process_start_time_seconds",
    ...  "node_load1", "http_requests_total", "skyscraper_height")]
    [True, True, True, True, True, False, False, False]
    """
    if name == "up" or name.startswith("promhttp_") or name.endswith(_SKIP_SUFFIXES):
        return True
    return not _SCRAPE_WORDS.isdisjoint(name.split("_"))


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
