"""RFC 3339 <-> epoch seconds, tolerant of Go's nanosecond fractions and zero time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aiops.model import DecodeError

_GO_ZERO_PREFIX = "0001-01-01"
#: the latest time the wire formats can carry (RFC 3339 has four-digit years)
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z
#: the latest time a receiver accepts: 9999-01-01T00:00:00Z, a year below what RFC 3339 and
#: Python's datetime can express, so that adding a timeout or a silence's duration to it
#: cannot overflow date arithmetic downstream
MAX_TS = 253_370_764_800.0
MIN_TS = 0.0  # nothing before the epoch: a negative time is a unit mistake


def parse_time(raw: object, *, field: str = "time") -> float | None:
    """Parse an RFC 3339 string or a number of seconds; Go's zero time means unset.

    >>> parse_time("2024-05-01T10:00:00.123456789Z")
    1714557600.123456
    >>> parse_time("0001-01-01T00:00:00Z") is None
    True
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise DecodeError(f"{field} must be a time, got {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
        # Accept milliseconds as Prometheus tooling often sends them.
        return _in_range(value / 1000.0 if value > 1e11 else value, raw, field)
    if not isinstance(raw, str):
        raise DecodeError(f"{field} must be an RFC 3339 string, got {type(raw).__name__}")
    if raw.startswith(_GO_ZERO_PREFIX):
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        frac = text[dot + 1 : end][:6]
        text = text[: dot + 1] + frac.ljust(6, "0") + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DecodeError(f"{field} {raw!r} is not RFC 3339") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _in_range(parsed.timestamp(), raw, field)


def _in_range(value: float, raw: object, field: str) -> float:
    """Refuse times no stage can work with: NaN, infinities, before 1970, after 9999.

    An out-of-range time used to pass decoding and then crash whatever formatted it or
    timed something by it (the correlator's idle timer on ``startsAt`` 1e300).

    >>> parse_time(1e300)
    Traceback (most recent call last):
    ...
    aiops.model.errors.DecodeError: cannot decode record: time 1e+300 is out of range (1970 to 9999)
    """
    if not 0.0 <= value <= MAX_TIME:  # also False for NaN
        raise DecodeError(f"{field} {raw!r} is out of range (1970 to 9999)")
    return value


def format_time(ts: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC with millisecond precision; ``None`` stays ``None``.

    >>> format_time(0.5)
    '1970-01-01T00:00:00.500Z'
    """
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def checked_time(value: float | None, name: str) -> float | None:
    """``value`` if it is a finite time in 1970..9999-01-01, else :class:`DecodeError`.

    >>> checked_time(1_790_000_000.0, "startsAt")
    1790000000.0
    >>> checked_time(float("nan"), "endsAt")
    Traceback (most recent call last):
    ...
    aiops.model.errors.DecodeError: cannot decode record: endsAt nan is out of range (...)
    """
    if value is None:
        return None
    if not math.isfinite(value) or not MIN_TS <= value <= MAX_TS:
        raise DecodeError(f"{name} {value!r} is out of range (1970-01-01 to 9999-01-01)")
    return value
