"""Decoding a remote write 1.0 body: snappy, then the four WriteRequest messages that matter."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import cramjam

from aiops.model import DecodeError, TooLargeError, service_of
from aiops.wire.timefmt import MAX_TIME

STALE_NAN_BITS = 0x7FF0000000000002
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)
_DOUBLE = struct.Struct("<d").unpack_from
_SIGN = 1 << 63
_CACHE_LIMIT = 200_000


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 10 bytes", kind="remote write request")


def _skip(buf: bytes, pos: int) -> int:
    """Skip one field of any wire type starting at its tag; returns the next position."""
    tag, pos = _varint(buf, pos)
    wire = tag & 7
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        length, pos = _varint(buf, pos)
        return pos + length
    if wire == 5:
        return pos + 4
    raise DecodeError(f"unsupported protobuf wire type {wire}", kind="remote write request")


def _ts6(raw: bytes) -> float | None:
    """Seconds from a 6-byte varint of milliseconds, or None if it is not one."""
    b0, b1, b2, b3, b4, b5 = raw
    if b5 >= 0x80 or (b0 & b1 & b2 & b3 & b4) < 0x80:
        return None
    ms = ((b0 & 0x7F) | (b1 & 0x7F) << 7 | (b2 & 0x7F) << 14 | (b3 & 0x7F) << 21
          | (b4 & 0x7F) << 28 | b5 << 35)
    return ms / 1000.0


def _labels(buf: bytes) -> dict[str, str]:
    """Decode the concatenated ``Label`` fields (field 1) of one TimeSeries."""
    labels: dict[str, str] = {}
    pos, n = 0, len(buf)
    while pos < n:
        length, pos = _varint(buf, pos + 1)  # tag is 0x0a: the caller only passes labels
        end = pos + length
        name = value = ""
        while pos < end:
            tag = buf[pos]
            if tag == 0x0A or tag == 0x12:
                size, pos = _varint(buf, pos + 1)
                text = buf[pos:pos + size].decode()
                if tag == 0x0A:
                    name = text
                else:
                    value = text
                pos += size
            else:
                pos = _skip(buf, pos)
        labels[name] = value
    return labels


def _sample(buf: bytes, pos: int, end: int) -> tuple[float, int, bool]:
    """(value, timestamp ms, is stale marker) of one ``Sample`` message."""
    value, ts, stale = 0.0, 0, False
    while pos < end:
        tag = buf[pos]
        if tag == 0x09:
            value = _DOUBLE(buf, pos + 1)[0]
            if value != value:
                stale = buf[pos + 1:pos + 9] == _STALE_BYTES
            pos += 9
        elif tag == 0x10:
            ts, pos = _varint(buf, pos + 1)
            if ts >= _SIGN:
                ts -= 1 << 64
        else:
            pos = _skip(buf, pos)
    if pos != end:
        raise DecodeError("a sample overruns its message", kind="remote write request")
    return value, ts, stale


@dataclass(slots=True)
class _Series:
    name: str
    labels: dict[str, str]
    service: str
    type: str = ""


#: ``MetricMetadata.MetricType`` of remote write 1.0, by enum number
METRIC_TYPES = ("unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary",
                "info", "stateset")
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def _metadata(buf: bytes, pos: int, end: int) -> tuple[str, str]:
    """(family name, type name) of one ``MetricMetadata`` message."""
    kind, family = 0, ""
    while pos < end:
        tag = buf[pos]
        if tag == 0x08:
            kind, pos = _varint(buf, pos + 1)
        elif tag == 0x12:
            size, pos = _varint(buf, pos + 1)
            family = buf[pos:pos + size].decode()
            pos += size
        else:
            pos = _skip(buf, pos)
    return family, METRIC_TYPES[kind] if kind < len(METRIC_TYPES) else "unknown"


@dataclass(slots=True)
class DecodedWrite:
    """One request's samples grouped by service, plus what was dropped and why."""

    by_service: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    samples: int = 0
    stale: int = 0
    non_finite: int = 0
    out_of_range: int = 0
    series: int = 0
    metadata: int = 0


class RemoteWriteDecoder:
    """Decodes WriteRequest bodies; keeps a bounded cache of decoded label sets.

    >>> from aiops.wire.remote_write.encode import encode_write_request
    >>> stale = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
    >>> body = encode_write_request([
    ...     ({"__name__": "latency_ms", "job": "cart", "instance": "c1"},
    ...      [(12.5, 1_790_000_000_000), (float("nan"), 1_790_000_001_000),
    ...       (stale, 1_790_000_002_000)]),
    ... ])
    >>> decoded = RemoteWriteDecoder().decode(body)
    >>> decoded.by_service["cart"]
    [{'name': 'latency_ms', 'labels': {'instance': 'c1', 'job': 'cart'}, 'ts': 1790000000.0, \
'value': 12.5}]
    >>> decoded.samples, decoded.non_finite, decoded.stale
    (1, 1, 1)
    """

    def __init__(self, cache_limit: int = _CACHE_LIMIT) -> None:
        self._cache: dict[bytes, _Series] = {}
        self._cache_limit = cache_limit
        self._types: dict[str, str] = {}  # family name -> declared type (metadata)

    def type_of(self, name: str) -> str:
        """The declared type of a series name's family ('' when no metadata said)."""
        types = self._types
        if not types:
            return ""
        found = types.get(name)
        if found is not None:
            return found
        for suffix in _FAMILY_SUFFIXES:
            if name.endswith(suffix):
                found = types.get(name[:-len(suffix)])
                if found is not None:
                    return found
        return ""

    def _learn_type(self, family: str, kind: str) -> None:
        if not family or kind == "unknown" or self._types.get(family) == kind:
            return
        if len(self._types) >= self._cache_limit:
            self._types.clear()
        self._types[family] = kind
        for series in self._cache.values():  # rare: a family's type is new or changed
            series.type = self.type_of(series.name)

    def _series(self, key: bytes) -> _Series:
        found = self._cache.get(key)
        if found is None:
            labels = _labels(key)
            name = labels.pop("__name__", "")
            if not name:
                raise DecodeError("a time series has no __name__ label",
                                  kind="remote write request")
            found = _Series(name, labels, service_of(labels), self.type_of(name))
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()  # series churn: start over rather than grow without end
            self._cache[key] = found
        return found

    def decode(self, buf: bytes) -> DecodedWrite:
        """Decode an uncompressed WriteRequest; raise :class:`DecodeError` if malformed."""
        try:
            return self._decode(buf)
        except DecodeError:
            raise
        except (IndexError, struct.error) as exc:
            raise DecodeError("truncated protobuf message", kind="remote write request") from exc
        except UnicodeDecodeError as exc:
            raise DecodeError("a label is not UTF-8", kind="remote write request") from exc

    def _decode(self, buf: bytes) -> DecodedWrite:
        out = DecodedWrite()
        groups = out.by_service
        cache = self._cache
        times: dict[bytes, float] = {}  # a scrape's series share one timestamp
        unpack_double = _DOUBLE
        stale_bytes = _STALE_BYTES
        pos, n = 0, len(buf)
        count = fast = 0
        while pos < n:
            if buf[pos] != 0x0A:  # not a TimeSeries
                if buf[pos] == 0x1A:  # MetricMetadata
                    size, body = _varint(buf, pos + 1)
                    self._learn_type(*_metadata(buf, body, body + size))
                    out.metadata += 1
                pos = _skip(buf, pos)  # a newer field: skip it
                continue
            length = buf[pos + 1]
            if length < 0x80:
                pos += 2
            else:
                length, pos = _varint(buf, pos + 1)
            end = pos + length
            if end > n:
                raise DecodeError("a time series overruns the request",
                                  kind="remote write request")
            count += 1
            # Prometheus writes each series' labels, then one sample: 0x12 16 0x09 <double>
            # 0x10 <timestamp>, whose varint is 6 bytes for this era's milliseconds. So the
            # last 18 bytes are the sample and everything before them the labels.
            if (length > 18 and buf[end - 18] == 0x12 and buf[end - 17] == 16
                    and buf[end - 16] == 0x09 and buf[end - 7] == 0x10):
                key = buf[pos:end - 18]
                series = cache.get(key)
                if series is None:
                    series = self._labels_only(key)
                tsb = buf[end - 6:end]
                ts = times.get(tsb)
                if ts is None:
                    ts = _ts6(tsb)
                    if ts is not None:
                        times[tsb] = ts
                if series is not None and ts is not None:
                    value = unpack_double(buf, end - 15)[0]
                    if value - value == 0.0:  # finite: neither NaN nor +-Inf
                        group = groups.get(series.service)
                        if group is None:
                            group = groups[series.service] = []
                        if series.type:
                            group.append({"name": series.name, "labels": series.labels,
                                          "ts": ts, "value": value, "type": series.type})
                        else:
                            group.append({"name": series.name, "labels": series.labels,
                                          "ts": ts, "value": value})
                        fast += 1
                    elif buf[end - 15:end - 7] == stale_bytes:
                        out.stale += 1
                    else:
                        out.non_finite += 1
                    pos = end
                    continue
            pos = self._any_series(buf, pos, end, out)
        out.series = count
        out.samples += fast
        return out

    def _labels_only(self, key: bytes) -> _Series | None:
        """The series for a label section, or None if ``key`` is not exactly Label fields
        (then the general path decodes the series field by field)."""
        pos, n = 0, len(key)
        while pos < n:
            if key[pos] != 0x0A:
                return None
            size, pos = _varint(key, pos + 1)
            pos += size
        return self._series(key) if pos == n else None

    def _any_series(self, buf: bytes, pos: int, end: int, out: DecodedWrite) -> int:
        """Any valid TimeSeries encoding: several samples, unknown fields, any field order
        (a Label after the samples is legal protobuf, though Prometheus never writes it)."""
        label_bytes = b""
        samples: list[tuple[float, int, bool]] = []
        while pos < end:
            tag = buf[pos]
            if tag == 0x0A:
                size, body = _varint(buf, pos + 1)
                label_bytes += buf[pos:body + size]
                pos = body + size
            elif tag == 0x12:
                size, pos = _varint(buf, pos + 1)
                samples.append(_sample(buf, pos, pos + size))
                pos += size
            else:
                pos = _skip(buf, pos)
        if pos != end:
            raise DecodeError("a time series overruns its message", kind="remote write request")
        series = self._series(label_bytes)
        group = out.by_service.setdefault(series.service, [])
        for value, ts, stale in samples:
            if not 0.0 <= ts / 1000.0 <= MAX_TIME:  # would overflow date arithmetic downstream
                out.out_of_range += 1
            elif math.isfinite(value):
                sample = {"name": series.name, "labels": series.labels,
                          "ts": ts / 1000.0, "value": value}
                if series.type:
                    sample["type"] = series.type
                group.append(sample)
                out.samples += 1
            elif stale:
                out.stale += 1
            else:
                out.non_finite += 1
        return end


def decompress(body: bytes, limit: int) -> bytes:
    """Snappy block decompression, refusing (:class:`TooLargeError`) bodies that would expand
    past ``limit``."""
    try:
        declared, _ = _varint(body, 0)
    except (IndexError, DecodeError) as exc:
        raise DecodeError("body is not snappy block-compressed",
                          kind="remote write request") from exc
    if declared > limit:
        raise TooLargeError(f"decompressed body of {declared} bytes is over {limit}", limit=limit,
                            kind="remote write request")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise DecodeError(f"body is not snappy block-compressed: {exc}",
                          kind="remote write request") from exc
