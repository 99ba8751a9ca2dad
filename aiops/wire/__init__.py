"""The wire layer: the formats the engine reads and writes, apart from how they travel.

Each format lives in its own subpackage with its decoder, its limits and its tests, and hands
the rest of the engine model objects (``aiops.model``) or plain decoded values, never bytes.
It imports only ``aiops.model`` and the format's own library (an import-linter contract in
``pyproject.toml``), so the HTTP receivers and the Kafka stages share one decoder per format.

Residents: OTLP (:mod:`aiops.wire.otlp`), Prometheus remote write
(:mod:`aiops.wire.remote_write`), Alertmanager's webhook (:mod:`aiops.wire.alertmanager`),
the JSON records on the topics (:mod:`aiops.wire.shapes`), shippers' log records
(:mod:`aiops.wire.logmapping`), the incident feed document (:mod:`aiops.wire.feed`) and times
(:mod:`aiops.wire.timefmt`); ``docs/design.md`` lists the limits each enforces.
"""
