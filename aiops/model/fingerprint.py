"""Alertmanager's alert identity: FNV-1a 64 over the sorted label set.

This mirrors ``labelSetToFingerprint`` in prometheus/common: for each label name in sorted
order, hash the name, a 0xff separator byte, the value, and another separator. An empty set
hashes to the FNV offset basis. The result is printed as ``%016x``, so an alert keeps the
identity Alertmanager gave it wherever it came from.

>>> alert_fingerprint({})
'cbf29ce484222325'
>>> alert_fingerprint({"alertname": "HighLatency", "service": "cart"}) == alert_fingerprint(
...     {"service": "cart", "alertname": "HighLatency"})
True
"""

from __future__ import annotations

from collections.abc import Mapping

_OFFSET64 = 0xCBF29CE484222325
_PRIME64 = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF


def _fnv1a(h: int, data: bytes) -> int:
    for byte in data:
        h ^= byte
        h = (h * _PRIME64) & _MASK64
    return h


def alert_fingerprint(labels: Mapping[str, str]) -> str:
    """Return Alertmanager's fingerprint of ``labels`` as 16 lowercase hex digits."""
    h = _OFFSET64
    for name in sorted(labels):
        h = _fnv1a(h, name.encode())
        h = _fnv1a(h, bytes((_SEPARATOR,)))
        h = _fnv1a(h, str(labels[name]).encode())
        h = _fnv1a(h, bytes((_SEPARATOR,)))
    return f"{h:016x}"
