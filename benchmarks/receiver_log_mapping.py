"""Log records decoded through the field mapping vs the native codec, records/s on one core.

The peer is :func:`aiops.wire.shapes.decode_logs` (native shape only); the mapping reads the
native shape and Vector's and Fluent Bit's Kubernetes records. Messages carry 1000 records
(``{"records": [...]}``); rounds are interleaved so load from elsewhere hits all alike.

    PYTHONPATH=. python benchmarks/receiver_log_mapping.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson

from aiops.model import LogRecord
from aiops.wire.logmapping import LogFieldMapping
from aiops.wire.shapes import decode_logs

RECORDS = 1000


def _messages() -> dict[str, bytes]:
    native = [{"ts": 1795428000.0 + i, "service": "cart", "level": "info",
               "message": f"GET /cart/{i} 200", "labels": {"pod": "cart-1"}}
              for i in range(RECORDS)]
    vector = [{"timestamp": "2026-11-23T10:00:00.123456789Z", "message": f"GET /cart/{i} 200",
               "source_type": "kubernetes_logs", "stream": "stdout",
               "kubernetes": {"pod_labels": {"app.kubernetes.io/name": "cart"},
                              "pod_namespace": "shop", "pod_name": "cart-1",
                              "container_name": "cart", "pod_node_name": "node-1"}}
              for i in range(RECORDS)]
    fluent = [{"@timestamp": 1795428000.25 + i, "log": f"GET /cart/{i} 200\n",
               "stream": "stdout",
               "kubernetes": {"labels": {"app": "cart"}, "namespace_name": "shop",
                              "pod_name": "cart-1", "container_name": "cart", "host": "n1"}}
              for i in range(RECORDS)]
    return {name: orjson.dumps({"records": recs})
            for name, recs in (("native", native), ("vector", vector), ("fluent-bit", fluent))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    opts = parser.parse_args()
    messages = _messages()
    mapping = LogFieldMapping()
    cases: list[tuple[str, Callable[[bytes], list[LogRecord]], bytes]] = [
        ("decode_logs (peer), native", decode_logs, messages["native"]),
        ("mapping, native", mapping.decode, messages["native"]),
        ("mapping, Vector kubernetes_logs", mapping.decode, messages["vector"]),
        ("mapping, Fluent Bit kubernetes", mapping.decode, messages["fluent-bit"]),
    ]
    spent = dict.fromkeys((c[0] for c in cases), 0.0)
    for _ in range(opts.rounds):
        for label, decode, message in cases:
            start = time.perf_counter()
            assert len(decode(message)) == RECORDS
            spent[label] += time.perf_counter() - start
    peer = opts.rounds * RECORDS / spent[cases[0][0]]
    for label, _, _ in cases:
        rate = opts.rounds * RECORDS / spent[label]
        print(f"{label:36s} {rate:10,.0f} records/s  ({rate / peer:.2f}x)")


if __name__ == "__main__":
    main()
