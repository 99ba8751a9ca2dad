"""Call edges observed in telemetry: trace spans and Prometheus service-graph metrics.

* Spans: a child span whose service differs from its parent's is a call from the parent's
  service to the child's. Zipkin v2 JSON, Jaeger JSON and OTLP/JSON exports are read.
* Service-graph metrics: Tempo's and the OpenTelemetry Collector's ``servicegraph``
  connector export ``traces_service_graph_request_total{client="a", server="b"}``; every
  series is a call edge ``a -> b`` weighted by its value.

>>> spans = [{"traceId": "t", "id": "1", "localEndpoint": {"serviceName": "frontend"}},
...          {"traceId": "t", "id": "2", "parentId": "1",
...           "localEndpoint": {"serviceName": "cart"}}]
>>> [(e.source, e.target, e.weight) for e in graph_from_spans(spans).edges()]
[('frontend', 'cart', 1.0)]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from aiops.model import ConfigError, MetricSample
from topology.graph import ServiceGraph

SERVICE_GRAPH_METRIC = "traces_service_graph_request_total"


def _norm_span(span: Mapping[str, Any], service: str | None = None
               ) -> tuple[str, str, str, str] | None:
    """(trace id, span id, parent id, service) from Zipkin, Jaeger or OTLP span shapes."""
    trace = span.get("traceId") or span.get("traceID") or span.get("trace_id")
    ident = span.get("id") or span.get("spanId") or span.get("spanID") or span.get("span_id")
    parent = span.get("parentId") or span.get("parentSpanId") or span.get("parent_span_id")
    if not parent:
        for ref in span.get("references") or []:
            if ref.get("refType", "CHILD_OF") == "CHILD_OF":
                parent = ref.get("spanID")
                break
    svc = service or (span.get("localEndpoint") or {}).get("serviceName") or \
        (span.get("process") or {}).get("serviceName") or span.get("serviceName") or \
        span.get("service")
    if not trace or not ident or not svc:
        return None
    return str(trace), str(ident), str(parent or ""), str(svc)


def _iter_spans(doc: Any) -> Iterator[tuple[str, str, str, str]]:
    if isinstance(doc, list):
        for item in doc:
            yield from _iter_spans(item)
        return
    if not isinstance(doc, Mapping):
        return
    if "resourceSpans" in doc:  # OTLP/JSON
        for rs in doc["resourceSpans"] or []:
            attrs = {a.get("key"): (a.get("value") or {}).get("stringValue")
                     for a in (rs.get("resource") or {}).get("attributes") or []}
            svc = attrs.get("service.name")
            for scope in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
                for span in scope.get("spans") or []:
                    found = _norm_span(span, svc)
                    if found:
                        yield found
        return
    if "data" in doc and isinstance(doc["data"], list):  # Jaeger API: {"data": [traces]}
        for trace in doc["data"]:
            procs = trace.get("processes") or {}
            for span in trace.get("spans") or []:
                proc = procs.get(span.get("processID"), {})
                found = _norm_span(span, proc.get("serviceName"))
                if found:
                    yield found
        return
    found = _norm_span(doc)
    if found:
        yield found


def graph_from_spans(spans: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> ServiceGraph:
    """Call edges between services from parent/child span pairs, weighted by count."""
    by_id: dict[tuple[str, str], str] = {}
    links: list[tuple[str, str, str]] = []
    for trace, ident, parent, svc in _iter_spans(spans):
        by_id[(trace, ident)] = svc
        if parent:
            links.append((trace, parent, svc))
    counts: Counter[tuple[str, str]] = Counter()
    services: set[str] = set(by_id.values())
    for trace, parent, svc in links:
        caller = by_id.get((trace, parent))
        if caller is not None and caller != svc:
            counts[(caller, svc)] += 1
    graph = ServiceGraph()
    for name in sorted(services):
        graph.add_node(name)
    for (src, dst), n in sorted(counts.items()):
        graph.add_edge(src, dst, "calls", float(n))
    return graph


def load_spans_file(path: str | Path) -> ServiceGraph:
    """Spans from a JSON document (array, Jaeger or OTLP export) or JSON lines."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            doc = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not JSON or JSON lines: {exc}", source=str(p)) from exc
    return graph_from_spans(doc)


def graph_from_service_graph_samples(samples: Iterable[MetricSample],
                                     metric: str = SERVICE_GRAPH_METRIC) -> ServiceGraph:
    """Call edges from ``traces_service_graph_request_total{client, server}`` samples."""
    weights: dict[tuple[str, str], float] = {}
    for s in samples:
        if s.name != metric:
            continue
        client, server = s.labels.get("client"), s.labels.get("server")
        if client and server and client != server:
            weights[(client, server)] = weights.get((client, server), 0.0) + s.value
    graph = ServiceGraph()
    for (src, dst), w in sorted(weights.items()):
        graph.add_edge(src, dst, "calls", w)
    return graph


def graph_from_prometheus_response(doc: Mapping[str, Any]) -> ServiceGraph:
    """From a Prometheus ``/api/v1/query`` JSON answer (vector) for the service-graph metric."""
    if doc.get("status") != "success":
        raise ConfigError(f"Prometheus query failed: {doc.get('error', doc.get('status'))}",
                          source="prometheus")
    samples = []
    for row in (doc.get("data") or {}).get("result") or []:
        labels = {str(k): str(v) for k, v in (row.get("metric") or {}).items()}
        ts, value = row.get("value", [0, "0"])
        samples.append(MetricSample(SERVICE_GRAPH_METRIC, labels, float(ts), float(value)))
    return graph_from_service_graph_samples(samples)


def load_prometheus_service_graph(base_url: str, timeout: float = 10.0,
                                  query: str = f"sum by (client, server) "
                                               f"({SERVICE_GRAPH_METRIC})") -> ServiceGraph:
    """Query a Prometheus (or Mimir/Thanos) HTTP API for the service graph."""
    import httpx

    try:
        resp = httpx.get(f"{base_url.rstrip('/')}/api/v1/query", params={"query": query},
                         timeout=timeout)
        resp.raise_for_status()
        doc = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"cannot query {base_url}: {exc}", source="prometheus") from exc
    return graph_from_prometheus_response(doc)
