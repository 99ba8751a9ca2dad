"""Schemathesis hooks for the engine's spec: remote write bodies are raw bytes (the receiver
answers 400/415 for what is not a snappy WriteRequest, which is what the fuzzer checks)."""

from __future__ import annotations

from typing import Any

import schemathesis


def protobuf_bytes(_ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def register() -> None:
    schemathesis.serializer("application/x-protobuf")(protobuf_bytes)


register()
