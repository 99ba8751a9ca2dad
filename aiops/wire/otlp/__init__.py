"""OTLP, the OpenTelemetry protocol: request bodies (protobuf or JSON, gzip) as OTLP/HTTP
and the OpenTelemetry Collector's Kafka exporter carry them, decoded with the maintained
``opentelemetry-proto`` package, and mapped into the engine's model.

* :mod:`aiops.wire.otlp.body`: signals, content types, decompression with limits, parsing.
* :mod:`aiops.wire.otlp.attributes`: attribute values, resource attributes to labels.
* :mod:`aiops.wire.otlp.metrics`: data points (gauges, sums, histograms) with their names.
* :mod:`aiops.wire.otlp.logs`: log records with severity.
* :mod:`aiops.wire.otlp.spans`: span facts (service, kind, duration, error, sampling weight).
* :mod:`aiops.wire.otlp.split`: requests cut into Kafka records as the Collector writes them,
  and the items a receiver reports as rejected (``partial_success``).
"""
