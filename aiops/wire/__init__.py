"""The wire layer: the formats the engine reads and writes, apart from how they travel.

Each format lives in its own subpackage with its decoder, its limits and its tests, and hands
the rest of the engine model objects (``aiops.model``) or plain decoded values, never bytes.
It imports only ``aiops.model`` and the format's own library (an import-linter contract in
``pyproject.toml``), so the HTTP receivers and the Kafka stages share one decoder per format.

Today it holds OTLP (:mod:`aiops.wire.otlp`); the remote_write, JSON topic shapes and
Alertmanager decoders move here next (see ``docs/design.md``).
"""
