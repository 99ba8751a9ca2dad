"""Silences and maintenance windows as the API, the store and the correlate stage share them.

A silence is written in Alertmanager's v2 shape (``matchers`` of ``{name, value, isRegex,
isEqual}``, ``startsAt``, ``endsAt``, ``createdBy``, ``comment``), so clients and people use
what they already know; matchers may also be given as Alertmanager matcher strings
(``service=~"db-.*"``). The correlator applies silences in event time (an alert is dropped
when its own time falls inside the window), through :class:`correlator.config.Silence`.

The API stores a silence, then puts a :func:`silence_message` on the alerts topic: the
correlate stage is the single owner of correlator state, and on that topic the change is
ordered with the alerts, so an alert accepted after the API answered is judged with the
silence in force.

>>> spec = parse_silence({"matchers": ['service=~"db-.*"'], "startsAt": 100, "endsAt": 200},
...                      now=50.0, ident="s1")
>>> spec.matchers[0]
MatcherSpec(name='service', value='db-.*', is_regex=True, is_equal=True)
>>> s = correlator_silence(spec)
>>> s.active(150.0) and s.matches({"service": "db-main"}), s.matches({"service": "web"})
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiops.model import ConfigError, DecodeError
from aiops.wire.shapes import dumps, loads
from aiops.wire.timefmt import MAX_TS, MIN_TS, format_time, parse_time
from correlator.config import Matcher, Silence

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPS = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}


class SilenceError(DecodeError):
    """A silence the engine refuses: bad matchers or times; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, kind="silence")


@dataclass(frozen=True, slots=True)
class MatcherSpec:
    """One matcher in Alertmanager's v2 form."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        return _OPS[(self.is_regex, self.is_equal)]

    def matcher(self) -> Matcher:
        return Matcher(self.name, self.value, self.op)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex,
                "isEqual": self.is_equal}


@dataclass(frozen=True, slots=True)
class SilenceSpec:
    """A silence as stored and served. ``expired_at`` is set (wall clock) when someone
    expired it through the API; the correlator then drops it whatever its ``ends_at``."""

    id: str
    matchers: tuple[MatcherSpec, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""
    updated_at: float = 0.0
    expired_at: float | None = None

    def state(self, now: float) -> str:
        """Alertmanager's silence state at wall-clock ``now``: pending, active or expired."""
        if self.expired_at is not None or now >= self.ends_at:
            return "expired"
        return "pending" if now < self.starts_at else "active"

    def expire(self, now: float) -> SilenceSpec:
        """Expired at ``now`` as Alertmanager does it: it ends now (a pending one also
        starts now, so it never was in force)."""
        if self.expired_at is not None:
            return self
        ends = min(self.ends_at, now)
        starts = min(self.starts_at, ends)
        return replace(self, starts_at=starts, ends_at=ends, updated_at=now, expired_at=now)


def _matcher_from(raw: object, index: int) -> MatcherSpec:
    where = f"matchers[{index}]"
    if isinstance(raw, str):
        try:
            m = Matcher.parse(raw)
        except ConfigError as exc:
            raise SilenceError(f"{where}: {exc.reason}") from exc
        spec = MatcherSpec(m.name, m.value, m.op in ("=~", "!~"), m.op in ("=", "=~"))
    elif isinstance(raw, Mapping):
        name, value = raw.get("name"), raw.get("value")
        is_regex, is_equal = raw.get("isRegex", False), raw.get("isEqual", True)
        if not isinstance(name, str) or not isinstance(value, str):
            raise SilenceError(f"{where}: 'name' and 'value' must be strings")
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            raise SilenceError(f"{where}: 'isRegex' and 'isEqual' must be booleans")
        spec = MatcherSpec(name, value, is_regex, is_equal)
    else:
        raise SilenceError(f"{where}: a matcher is a string such as 'service=~\"db-.*\"' "
                           "or an object {name, value, isRegex, isEqual}")
    if not _LABEL_NAME.match(spec.name):
        raise SilenceError(f"{where}: {spec.name!r} is not a valid label name")
    try:
        spec.matcher()  # compiles the regex
    except ConfigError as exc:
        raise SilenceError(f"{where}: {exc.reason}") from exc
    return spec


def parse_matcher(raw: object, index: int = 0) -> MatcherSpec:
    """One matcher (string or v2 object); :class:`SilenceError` with the reason."""
    return _matcher_from(raw, index)


def _time(raw: object, name: str) -> float | None:
    try:
        value = parse_time(raw, field=name)
    except DecodeError as exc:
        raise SilenceError(exc.reason) from exc
    if value is not None and not MIN_TS <= value <= MAX_TS:  # also NaN: comparisons fail
        raise SilenceError(f"{name} {value!r} is out of range (1970-01-01 to 9999-01-01)")
    return value


def parse_silence(raw: object, *, now: float, ident: str, check_end: bool = True
                  ) -> SilenceSpec:
    """Validate a silence in Alertmanager's v2 shape; ``startsAt`` defaults to ``now``.

    Refused (``SilenceError`` with the reason): no matchers, an unparsable matcher or regex,
    matchers that would all match an alert without the label (they would silence
    everything, which Alertmanager refuses too), a missing or unparsable time, ``endsAt``
    not after ``startsAt``, and (``check_end``) ``endsAt`` already past.
    """
    if not isinstance(raw, Mapping):
        raise SilenceError("a silence must be a JSON object")
    matchers_raw = raw.get("matchers")
    if not isinstance(matchers_raw, list) or not matchers_raw:
        raise SilenceError("'matchers' must be a non-empty list")
    matchers = tuple(_matcher_from(m, i) for i, m in enumerate(matchers_raw))
    if all(m.matcher().matches({}) for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string "
                           "(these would silence every alert)")
    starts_at = _time(raw.get("startsAt"), "startsAt")
    ends_at = _time(raw.get("endsAt"), "endsAt")
    if ends_at is None:
        raise SilenceError("'endsAt' is required")
    if starts_at is None:
        starts_at = now
    if ends_at <= starts_at:
        raise SilenceError("'endsAt' must be after 'startsAt'")
    if check_end and ends_at <= now:
        raise SilenceError("'endsAt' is in the past")
    created_by, comment = raw.get("createdBy", ""), raw.get("comment", "")
    if not isinstance(created_by, str) or not isinstance(comment, str):
        raise SilenceError("'createdBy' and 'comment' must be strings")
    if len(created_by) > 255:
        raise SilenceError("'createdBy' is longer than 255 characters")
    return SilenceSpec(ident, matchers, starts_at, ends_at, created_by, comment, updated_at=now)


def silence_to_dict(spec: SilenceSpec, now: float | None = None) -> dict[str, Any]:
    """Alertmanager's gettable silence; ``status`` only when ``now`` is given."""
    out: dict[str, Any] = {
        "id": spec.id,
        "matchers": [m.to_dict() for m in spec.matchers],
        "startsAt": format_time(spec.starts_at),
        "endsAt": format_time(spec.ends_at),
        "createdBy": spec.created_by,
        "comment": spec.comment,
        "updatedAt": format_time(spec.updated_at),
    }
    if now is not None:
        out["status"] = {"state": spec.state(now)}
    return out


def correlator_silence(spec: SilenceSpec) -> Silence:
    return Silence(matchers=tuple(m.matcher() for m in spec.matchers),
                   starts_at=spec.starts_at, ends_at=spec.ends_at, id=spec.id,
                   comment=spec.comment)


# ---------------------------------------------------------------------- the alerts topic

def silence_message(spec: SilenceSpec) -> bytes:
    """What the API puts on the alerts topic for the correlate stage: the silence in force,
    or (``expired``) the id of one to drop."""
    return dumps({"silence": silence_to_dict(spec), "expired": spec.expired_at is not None})


def decode_silence_message(data: bytes) -> tuple[str, Silence | None] | None:
    """``(id, silence to put in force)`` from :func:`silence_message`, with ``None`` for the
    silence when it was expired; ``None`` when ``data`` is not a silence message at all;
    ``SilenceError`` when it is one but malformed."""
    try:
        obj = loads(data)
    except DecodeError:
        return None
    if not isinstance(obj, Mapping) or "silence" not in obj:
        return None
    body = obj["silence"]
    if not isinstance(body, Mapping) or not isinstance(body.get("id"), str) or not body["id"]:
        raise SilenceError("a silence message needs the silence with its 'id'")
    if obj.get("expired") is True:
        return body["id"], None
    spec = parse_silence(body, now=0.0, ident=body["id"], check_end=False)
    return spec.id, correlator_silence(spec)
