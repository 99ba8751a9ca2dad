"""Correlator settings, label matchers, silences and inhibition rules.

Matchers follow Alertmanager's syntax (``=``, ``!=``, ``=~``, ``!~``; regexes are anchored)
so silences and inhibition rules read like the ones operators already write.

>>> m = Matcher.parse('service=~"cart|checkout"')
>>> m.matches({"service": "cart"}), m.matches({"service": "frontend"})
(True, False)
>>> s = Silence(matchers=(Matcher.parse("team=payments"),), starts_at=100.0, ends_at=200.0)
>>> s.active(150.0) and s.matches({"team": "payments", "alertname": "X"})
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiops.model import ConfigError

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label condition; a missing label reads as the empty string, as in Alertmanager."""

    name: str
    value: str
    op: str = "="

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ConfigError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(f"(?:{self.value})\\Z")
            except re.error as exc:
                raise ConfigError(f"bad regex in matcher {self.name}: {exc}") from exc

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = _anchored(self.value).match(got) is not None
        return hit if self.op == "=~" else not hit

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``name=value``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``."""
        found = _MATCHER.match(text)
        if found is None:
            raise ConfigError(f"cannot parse matcher {text!r}")
        return cls(found.group(1), found.group(3), found.group(2))


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _anchored(value: str) -> re.Pattern[str]:
    """The compiled, fully anchored form of a matcher's regex: matchers run for every
    alert joining an incident, and ``re``'s own cache costs a format and a lookup each."""
    pattern = _PATTERNS.get(value)
    if pattern is None:
        if len(_PATTERNS) > 1024:
            _PATTERNS.clear()
        pattern = _PATTERNS[value] = re.compile(f"(?:{value})\\Z")
    return pattern


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True, slots=True)
class Silence:
    """Drop matching alerts between ``starts_at`` and ``ends_at`` (event time).

    A maintenance window is a silence on the nodes under maintenance, e.g.
    ``service=~"db-.*"``.
    """

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    id: str = ""
    comment: str = ""

    def active(self, ts: float) -> bool:
        return self.starts_at <= ts < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.matchers, labels)


@dataclass(frozen=True, slots=True)
class InhibitionRule:
    """A firing ``source`` alert absorbs ``target`` alerts while it fires.

    As in Alertmanager, ``equal`` labels must have the same value on both. With
    ``topology=True`` the target's node must instead *depend on* the source's node within
    ``max_hops`` (e.g. a pod that runs on the host that is down). Absorbed alerts join the
    source's incident but are not root-cause candidates themselves.
    """

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    topology: bool = False
    max_hops: int = 2


#: Words in alert names that say what class of signal an alert is. Generic Prometheus naming
#: practice (``KubePodCrashLooping``, ``HighCPUUsage``, ``HostDown``...), not any simulator's.
DEFAULT_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "availability": ("down", "crash", "unreachable", "oom", "killed", "notready", "unavailable",
                     "absent"),
    "change": ("deploy", "rollout", "config", "version", "release"),
    "resource": ("cpu", "memory", "mem", "disk", "saturation", "throttl", "heap", "gc", "leak",
                 "fd", "thread", "pool", "connection"),
    "symptom": ("latency", "error", "5xx", "timeout", "slo", "availability", "apdex", "slow",
                "duration", "fail"),
}


def classify_alert(name: str, kind_words: Mapping[str, Sequence[str]] = DEFAULT_KIND_WORDS,
                   explicit: str | None = None) -> str:
    """The class of an alert: an explicit ``kind`` label wins, then words in its name.

    >>> classify_alert("HighCPUUsage"), classify_alert("HighLatencyP99"), classify_alert("X")
    ('resource', 'symptom', 'symptom')
    """
    if explicit:
        return explicit
    low = name.lower()
    for kind, words in kind_words.items():
        if any(w in low for w in words):
            return kind
    return "symptom"


@dataclass(frozen=True, slots=True)
class CorrelatorConfig:
    """How the correlator groups and ages incidents; all durations in seconds of event time.

    ``window``: how far apart in time a cause's onset and its effects' onsets may be.
    ``linger``: how long a node whose alerts all resolved still attracts new effects.
    ``cause_lead``: how much later than a dependent's onset a dependency may start
    alerting and still be taken as its cause (detection delays differ between signals).
    ``k_hops`` and ``relation``: how close on the graph two nodes must be to correlate
    (``"directed"``: one depends on the other; ``"undirected"``: any path). One hop with
    chaining through alerting nodes is the default: wider hops glue unrelated noise through
    shared databases.
    ``quiet_period``: after every member alert resolved, wait this long before auto-resolving.
    ``reopen_window``: a related alert this soon after resolution reopens the incident.
    ``flap_threshold`` state changes of one alert within ``flap_window`` mark it flapping;
    its further changes then stop producing new incident versions.
    Incidents with more than ``rank_eager_nodes`` nodes are re-ranked when their node count
    grew by the factor ``rank_growth``, else by ``tick()`` at most every ``rank_interval``
    seconds, which keeps the per-alert cost flat during storms.
    ``changes_open_incidents``: when false (the default), a change event (a rollout) that
    no incident can take is kept as context for ``linger`` seconds instead of opening an
    incident of its own: a change is an action, not a problem, and it joins the first
    incident whose alerts, on its node or on a node depending on it, start in that time.
    ``confirm_after``: a new incident of one alert of a class in ``confirm_kinds``
    (resource saturation, symptoms; not outages) starts *pending*: it is published with
    status ``pending`` (stored, never notified) until a second alert joins it or its alert
    is still firing ``confirm_after`` seconds after it began. If every alert has cleared
    by then it is dropped as transient, as most one-off blips do within a minute or two.
    Set 0 to raise every incident at once. One still firing then that depends, within
    ``confirm_reach`` hops, on a node of a raised incident whose problem began earlier
    (within ``window``) joins that incident instead: a far effect of a known problem.
    """

    window: float = 300.0
    linger: float = 60.0
    cause_lead: float = 15.0
    k_hops: int = 1
    relation: str = "directed"
    quiet_period: float = 300.0
    reopen_window: float = 900.0
    flap_threshold: int = 4
    flap_window: float = 600.0
    silences: tuple[Silence, ...] = ()
    inhibitions: tuple[InhibitionRule, ...] = ()
    kind_words: Mapping[str, Sequence[str]] = field(default_factory=lambda: DEFAULT_KIND_WORDS)
    merge_on_shared_effect: bool = False
    max_root_causes: int = 5
    rank_eager_nodes: int = 64
    rank_growth: float = 1.25
    rank_interval: float = 60.0
    changes_open_incidents: bool = False
    confirm_after: float = 150.0
    confirm_kinds: tuple[str, ...] = ("resource", "symptom")
    confirm_reach: int = 4

    def __post_init__(self) -> None:
        if self.window <= 0 or self.quiet_period < 0 or self.reopen_window < 0 \
                or self.confirm_after < 0:
            raise ConfigError("window must be > 0; quiet_period, reopen_window, "
                              "confirm_after >= 0")
        if self.k_hops < 0:
            raise ConfigError("k_hops must be >= 0")
        if self.relation not in ("directed", "undirected"):
            raise ConfigError("relation must be 'directed' or 'undirected'")


def host_down_inhibition(max_hops: int = 2) -> InhibitionRule:
    """The usual rule: a host/node-down alert absorbs alerts of what runs on that host."""
    return InhibitionRule(source=(Matcher("alertname", ".*([Hh]ost|[Nn]ode).*[Dd]own.*", "=~"),),
                          target=(), topology=True, max_hops=max_hops)
