"""Call-edge deviations as evidence for the callee.

A caller's client spans time each call from the caller's side, and the engine turns them
into per-edge series (``trace_call_latency_p95_seconds``, ``trace_call_error_ratio``, with
``service`` = the caller and ``peer`` = the callee; see :mod:`aiops.ingest.red`). When such a
series deviates, what moved is how the *callee* answered that caller: it shows even when the
callee's own series are quiet (its spans are not exported, or the time is lost before its
handler starts: a full accept queue, a sidecar, the network in front of it). The detect stage
files every series under its ``service`` label, which for a call edge is the caller, so the
correlator files these deviations again, under the callee (:func:`to_callee`), before they
enter its window. The callee then has latency (or error) evidence of its own, explains its
callers' symptoms in the chain ranking, and its evidence text names the edge
(:func:`describe_edge`): ``checkout -> catalog: latency p95 0.41 s vs 0.03 s expected``.

The kind stays the signal's kind (``latency``, ``errors``): the edge is where the callee's
latency was seen, not another kind of signal, so every ranking strategy reads it as the
callee's latency. Each caller's edge is a family of its own on the callee (several slowed
callers are several pieces of evidence, and the window keeps each one's time). Traffic on
an edge (``trace_call_rate``) stays with the caller: how often it calls is its own doing.

>>> d = Deviation("checkout", "trace_call_latency_p95_seconds{peer=catalog}",
...               "trace_call_latency_p95_seconds", "latency", 0.41, 0.03, 40.0, 57_000.0,
...               57_060.0)
>>> c = to_callee(d)
>>> c.node, c.family, c.series
('catalog', 'trace_call_latency_p95_seconds{caller=checkout,peer=catalog}', \
'checkout -> catalog latency p95')
>>> describe_edge(c)
('checkout -> catalog', 'latency p95', ' s')
>>> to_callee(c) == c, describe_edge(d)
(True, None)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiops.model.deviation import Deviation, signal_kind

#: Name prefix of the per-call-edge series (:mod:`aiops.ingest.red` writes them).
EDGE_PREFIX = "trace_call_"
#: The label naming the callee on those series, and the one naming the caller once the
#: deviation is filed under the callee.
PEER, CALLER = "peer", "caller"
#: Signal kinds of an edge that are the callee's doing.
_CALLEE_KINDS = frozenset(("latency", "errors"))


def _split(family: str) -> tuple[str, dict[str, str]]:
    """A family key (``name{k=v,...}``, see :func:`aiops.model.deviation.family_of`) back
    into its name and labels.

    >>> _split("trace_call_error_ratio{peer=db}"), _split("latency")
    (('trace_call_error_ratio', {'peer': 'db'}), ('latency', {}))
    """
    name, brace, rest = family.partition("{")
    if not brace or not rest.endswith("}"):
        return family, {}
    labels: dict[str, str] = {}
    for part in rest[:-1].split(","):
        key, eq, value = part.partition("=")
        if eq:
            labels[key] = value
    return name, labels


def _family(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def _what(name: str) -> tuple[str, str]:
    """(human name, unit suffix) of an edge series: ``latency p95``/`` s``.

    >>> _what("trace_call_latency_p99_seconds"), _what("trace_call_error_ratio")
    (('latency p99', ' s'), ('error ratio', ''))
    """
    rest = name[len(EDGE_PREFIX):]
    unit = ""
    if rest.endswith("_seconds"):
        rest, unit = rest[: -len("_seconds")], " s"
    return rest.replace("_", " "), unit


def filed_as(node: str, family: str) -> tuple[str, str]:
    """The (node, family) under which the correlator files a deviation of ``family`` of
    ``node``: the callee's, for a call edge's latency or errors; else as it is. Alerts on an
    edge series are matched against the window with it.

    >>> filed_as("web", "trace_call_error_ratio{peer=db}"), filed_as("web", "latency")
    (('db', 'trace_call_error_ratio{caller=web,peer=db}'), ('web', 'latency'))
    >>> filed_as("web", "trace_call_rate{peer=db}")
    ('web', 'trace_call_rate{peer=db}')
    """
    if not family.startswith(EDGE_PREFIX):
        return node, family
    name = family.partition("{")[0]
    return _file(node, family, signal_kind(name))


def _file(node: str, family: str, kind: str) -> tuple[str, str]:
    if kind not in _CALLEE_KINDS or not family.startswith(EDGE_PREFIX):
        return node, family
    name, labels = _split(family)
    callee = labels.get(PEER, "")
    if not callee or callee == node or CALLER in labels:
        return node, family
    labels[CALLER] = node
    return callee, _family(name, labels)


def to_callee(dev: Deviation) -> Deviation:
    """The deviation filed under the callee when it is a call edge's latency or errors as
    the caller saw them; any other deviation (and one already filed so) as it is."""
    callee, family = _file(dev.node, dev.family, dev.kind)
    if callee == dev.node:
        return dev
    what, _ = _what(family.partition("{")[0])
    return Deviation(callee, family, f"{dev.node} -> {callee} {what}", dev.kind, dev.value,
                     dev.expected, dev.z, dev.since, dev.ts, dev.bad, dev.usual,
                     dev.rise)


def to_callees(devs: Iterable[Deviation]) -> Iterator[Deviation]:
    """:func:`to_callee` of each."""
    for dev in devs:
        yield to_callee(dev)


def describe_edge(dev: Deviation) -> tuple[str, str, str] | None:
    """(edge, series, unit) for the evidence text of a deviation filed under its callee by
    :func:`to_callee`; None for any other deviation."""
    if not dev.family.startswith(EDGE_PREFIX):
        return None
    name, labels = _split(dev.family)
    caller = labels.get(CALLER)
    if caller is None or labels.get(PEER) != dev.node:
        return None
    what, unit = _what(name)
    return f"{caller} -> {dev.node}", what, unit
