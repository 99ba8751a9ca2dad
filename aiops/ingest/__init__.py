"""Ingest: telemetry in foreign formats turned into the engine's own signals.

The wire layer (:mod:`aiops.wire`) decodes a format into data points, log records and span
facts; this package gives them the engine's semantics, which needs memory across messages:
cumulative histograms become per-interval latency, spans become rate/error/latency series per
service and per call edge, and call edges become topology updates that expire.
"""
