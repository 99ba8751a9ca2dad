"""Protocol Buffers' base-128 varint, for the few messages the engine writes by hand.

The engine encodes two small messages itself rather than through generated classes: the
``google.rpc.Status`` an OTLP receiver answers with, and remote_write requests (for tests
and benchmarks, which must produce exactly what Prometheus sends).

>>> encode_varint(1), encode_varint(300)
(b'\\x01', b'\\xac\\x02')
"""

from __future__ import annotations


def encode_varint(value: int) -> bytes:
    """``value`` (non-negative, below 2**64) as a varint: 7 bits a byte, low bits first."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
