"""Output of the client commands: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

FORMATS = ("table", "json")


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """Columns padded to the widest cell (cut at ``max_width``).

    >>> print(table(["ID", "STATUS"], [["a", "open"], ["bb", "resolved"]]))
    ID  STATUS
    a   open
    bb  resolved
    """
    cells = [[_cut(str(c), max_width) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [headers, *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_time(raw: str | float | None) -> str:
    """An RFC 3339 string or epoch seconds as ``YYYY-MM-DD HH:MM:SS`` UTC.

    >>> short_time("2026-09-21T14:13:20.000Z"), short_time(None)
    ('2026-09-21 14:13:20', '')
    """
    if raw is None or raw == "":
        return ""
    if isinstance(raw, int | float):
        return datetime.fromtimestamp(raw, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return raw.replace("T", " ")[:19]


def ago(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        then = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return raw
    delta = int(time.time() - then)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if abs(delta) >= size:
            return f"{delta // size}{unit}"
    return f"{delta}s"
