"""Accepting a new normal: a person says a series' current level is how it is now.

A level shift that lasts keeps its alert firing until the series returns to its earlier
baseline (see :mod:`detectors.policy`). When the new level is the right one (a bigger
instance, a new release's footprint), ``POST /api/v1/detection/accept`` with a series
selector ends those alerts and has the detector learn the series afresh.

The detect stage owns detector state (one writer, as the correlator owns incidents), so the
API does not touch it: it puts an :func:`accept_message` on every partition of the metrics
topic, where it is ordered with the samples, and each detect worker applies it to the
firing series it holds that the selector matches.

>>> cmd = parse_accept({"matchers": ['__name__="error_ratio"', 'service="cart"'],
...                     "actor": "ana"}, now=100.0)
>>> decoded = decode_accept_message(accept_message(cmd))
>>> decoded == cmd, decoded.matches({"__name__": "error_ratio", "service": "cart"})
(True, True)
>>> decoded.matches({"__name__": "error_ratio", "service": "web"})
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiops.model import DecodeError
from aiops.silences import MatcherSpec, SilenceError, parse_matcher
from aiops.wire.shapes import dumps, loads

#: How an accept command starts on the metrics topic (no metrics message starts so).
COMMAND_PREFIX = b'{"command":'


@dataclass(frozen=True, slots=True)
class AcceptCommand:
    """Accept the current level of the firing series that ``matchers`` select."""

    matchers: tuple[MatcherSpec, ...]
    actor: str = ""
    note: str = ""
    at: float = 0.0  # wall clock of the request

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert's labels (with the metric name as ``__name__``) are selected."""
        full = dict(labels)
        if "metric" in full:
            full.setdefault("__name__", full["metric"])
        return all(m.matcher().matches(full) for m in self.matchers)


def parse_accept(raw: object, *, now: float) -> AcceptCommand:
    """Validate a request body: ``matchers`` (Alertmanager matcher strings or objects; the
    metric name is ``__name__``), optional ``actor`` and ``note``.

    Refused with the reason (:class:`SilenceError`, a :class:`DecodeError`): no matchers, a
    bad matcher, or matchers that select every series.
    """
    if not isinstance(raw, Mapping):
        raise SilenceError("the body must be a JSON object")
    matchers_raw = raw.get("matchers")
    if not isinstance(matchers_raw, list) or not matchers_raw:
        raise SilenceError("'matchers' must be a non-empty list")
    matchers = tuple(parse_matcher(m, i) for i, m in enumerate(matchers_raw))
    if all(m.matcher().matches({}) for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string "
                           "(these would accept every series)")
    actor, note = raw.get("actor", ""), raw.get("note", "")
    if not isinstance(actor, str) or not isinstance(note, str):
        raise SilenceError("'actor' and 'note' must be strings")
    return AcceptCommand(matchers, actor, note, now)


def accept_message(cmd: AcceptCommand) -> bytes:
    """The command as it travels on the metrics topic (starts with :data:`COMMAND_PREFIX`)."""
    body: dict[str, Any] = {"command": "accept",
                            "matchers": [m.to_dict() for m in cmd.matchers],
                            "actor": cmd.actor, "note": cmd.note, "at": cmd.at}
    return dumps(body)


def decode_accept_message(data: bytes) -> AcceptCommand:
    """Inverse of :func:`accept_message`; :class:`DecodeError` with the reason otherwise."""
    obj = loads(data)
    if not isinstance(obj, Mapping) or obj.get("command") != "accept":
        raise DecodeError("unknown command on the metrics topic")
    at = obj.get("at", 0.0)
    if not isinstance(at, (int, float)):
        raise DecodeError("'at' must be a number")
    cmd = parse_accept(obj, now=float(at))
    return cmd
