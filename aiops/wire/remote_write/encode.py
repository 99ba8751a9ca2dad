"""Encoding WriteRequests, for tests, benchmarks and clients that push without Prometheus."""

from __future__ import annotations

import struct
from collections.abc import Mapping

from aiops.wire.protobuf import encode_varint
from aiops.wire.remote_write.decode import METRIC_TYPES, RemoteWriteDecoder  # noqa: F401

# (RemoteWriteDecoder: the doctests decode what they encode)


def encode_metadata(types: Mapping[str, str]) -> bytes:
    """Encode ``MetricMetadata`` fields (family name -> type), as Prometheus sends them in
    a WriteRequest of their own; for tests and clients.

    >>> dec = RemoteWriteDecoder()
    >>> _ = dec.decode(encode_metadata({"jobs_done": "counter"}))
    >>> body = encode_write_request([({"__name__": "jobs_done", "job": "a"}, [(3.0, 1_000)])])
    >>> dec.decode(body).by_service["a"][0]["type"]
    'counter'
    """
    out = bytearray()
    for family, kind in types.items():
        meta = b"\x08" + encode_varint(METRIC_TYPES.index(kind)) + encode_field(2, family.encode())
        out += encode_field(3, meta)
    return bytes(out)


def encode_write_request(series: list[tuple[Mapping[str, str], list[tuple[float, int]]]]
                         ) -> bytes:
    """Encode an uncompressed WriteRequest: ``[(labels with __name__, [(value, ts_ms)])]``.

    The inverse of :class:`RemoteWriteDecoder`, for tests, benchmarks and clients that push
    to the receiver without Prometheus. Labels are written sorted by name, as Prometheus does.

    >>> body = encode_write_request([({"__name__": "up", "job": "cart"}, [(1.0, 1_000)])])
    >>> decoded = RemoteWriteDecoder().decode(body)
    >>> decoded.by_service["cart"]
    [{'name': 'up', 'labels': {'job': 'cart'}, 'ts': 1.0, 'value': 1.0}]
    """
    out = bytearray()
    for labels, samples in series:
        ts_body = bytearray()
        for name in sorted(labels):
            label = encode_field(1, name.encode()) + encode_field(2, labels[name].encode())
            ts_body += encode_field(1, label)
        for value, ts in samples:
            sample = b"\x09" + struct.pack("<d", value) + b"\x10" + encode_varint(
                ts & 0xFFFFFFFFFFFFFFFF)
            ts_body += encode_field(2, sample)
        out += encode_field(1, bytes(ts_body))
    return bytes(out)


def encode_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: its tag, its length, its bytes."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload
