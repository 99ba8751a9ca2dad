"""Live topology sources: the Kubernetes API (recorded responses served over HTTP), trace
spans, Prometheus service-graph metrics, and runtime updates."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aiops.model import ConfigError, ConflictError, MetricSample
from topology.graph import ServiceGraph
from topology.kube import api_client_for, load_kubernetes
from topology.observed import (
    graph_from_service_graph_samples,
    graph_from_spans,
    load_prometheus_service_graph,
    load_spans_file,
)
from topology.updates import apply_update

FIXTURES = Path(__file__).parent / "fixtures" / "k8s"


class _Recorded(BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.seen.append(self.path)
        body = self.routes.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"kind":"Status","status":"Failure","reason":"NotFound","code":404}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorded_server() -> Iterator[tuple[str, type[_Recorded]]]:
    handler = type("Handler", (_Recorded,), {"routes": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_kubernetes_api_through_the_official_client(
        recorded_server: tuple[str, type[_Recorded]]) -> None:
    url, handler = recorded_server
    handler.routes.update({
        "/api/v1/services": (FIXTURES / "services.json").read_bytes(),
        "/api/v1/pods": (FIXTURES / "pods.json").read_bytes(),
        "/api/v1/nodes": (FIXTURES / "nodes.json").read_bytes(),
        "/apis/apps/v1/deployments": (FIXTURES / "deployments.json").read_bytes(),
    })
    g = load_kubernetes(api_client_for(url, token="t0k"))
    assert {n.name for n in g.nodes("host")} == {"node-a", "node-b"}
    assert g.node("cart").kind == "service" and g.node("loadgen").kind == "deployment"
    assert set(g.callees("cart")) == {"cart-6c8b-xk2lp", "cart-6c8b-p9q8r"}
    assert g.hosts_of("cart") == {"node-a", "node-b"}
    assert g.node("redis-0").labels["service"] == "redis"
    assert g.blast_radius("node-b") >= {"cart-6c8b-p9q8r", "redis-0", "cart", "redis"}
    assert "kubernetes" in g  # selector-less service kept as a node, with no pods
    assert any(p.startswith("/api/v1/pods") for p in handler.seen)


def test_kubernetes_api_error_is_a_config_error(
        recorded_server: tuple[str, type[_Recorded]]) -> None:
    url, _ = recorded_server
    with pytest.raises(ConfigError, match="404"):
        load_kubernetes(api_client_for(url))


ZIPKIN = [
    {"traceId": "a1", "id": "1", "kind": "SERVER", "localEndpoint": {"serviceName": "frontend"}},
    {"traceId": "a1", "id": "2", "parentId": "1", "localEndpoint": {"serviceName": "cart"}},
    {"traceId": "a1", "id": "3", "parentId": "2", "localEndpoint": {"serviceName": "redis"}},
    {"traceId": "a1", "id": "4", "parentId": "2", "localEndpoint": {"serviceName": "cart"}},
    {"traceId": "b2", "id": "1", "localEndpoint": {"serviceName": "frontend"}},
    {"traceId": "b2", "id": "9", "parentId": "1", "localEndpoint": {"serviceName": "cart"}},
]


def test_spans_become_weighted_call_edges(tmp_path: Path) -> None:
    g = graph_from_spans(ZIPKIN)
    assert {(e.source, e.target, e.weight) for e in g.edges()} == {
        ("frontend", "cart", 2.0), ("cart", "redis", 1.0)}
    jaeger = {"data": [{"traceID": "t", "processes": {"p1": {"serviceName": "api"},
                                                      "p2": {"serviceName": "db"}},
                        "spans": [{"traceID": "t", "spanID": "s1", "processID": "p1"},
                                  {"traceID": "t", "spanID": "s2", "processID": "p2",
                                   "references": [{"refType": "CHILD_OF", "spanID": "s1"}]}]}]}
    assert [(e.source, e.target) for e in graph_from_spans(jaeger).edges()] == [("api", "db")]
    otlp = {"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gw"}}]},
         "scopeSpans": [{"spans": [{"traceId": "x", "spanId": "01"}]}]},
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "auth"}}]},
         "scopeSpans": [{"spans": [{"traceId": "x", "spanId": "02", "parentSpanId": "01"}]}]}]}
    p = tmp_path / "otlp.json"
    p.write_text(json.dumps(otlp))
    assert [(e.source, e.target) for e in load_spans_file(p).edges()] == [("gw", "auth")]
    lines = tmp_path / "spans.jsonl"
    lines.write_text("\n".join(json.dumps(s) for s in ZIPKIN))
    assert load_spans_file(lines).downstream("frontend") == {"cart", "redis"}


def test_prometheus_service_graph_metrics(recorded_server: tuple[str, type[_Recorded]]) -> None:
    samples = [MetricSample("traces_service_graph_request_total",
                            {"client": "frontend", "server": "cart"}, 1.0, 120.0),
               MetricSample("traces_service_graph_request_total",
                            {"client": "cart", "server": "redis"}, 1.0, 80.0),
               MetricSample("other", {"client": "x", "server": "y"}, 1.0, 1.0)]
    g = graph_from_service_graph_samples(samples)
    assert {(e.source, e.target, e.weight) for e in g.edges()} == {
        ("frontend", "cart", 120.0), ("cart", "redis", 80.0)}
    url, handler = recorded_server
    handler.routes["/api/v1/query"] = json.dumps({
        "status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"client": "frontend", "server": "cart"}, "value": [1.7e9, "42"]},
            {"metric": {"client": "cart", "server": "postgres"}, "value": [1.7e9, "7.5"]}]},
    }).encode()
    g2 = load_prometheus_service_graph(url)
    assert g2.nx["cart"]["postgres"]["weight"] == 7.5
    assert "traces_service_graph_request_total" in handler.seen[-1]
    handler.routes["/api/v1/query"] = b'{"status":"error","error":"bad query"}'
    with pytest.raises(ConfigError, match="bad query"):
        load_prometheus_service_graph(url)


def test_runtime_updates_bump_versions_and_are_seen_by_queries() -> None:
    g = ServiceGraph.from_edges([("frontend", "cart")])
    v0 = g.version
    assert g.upstream_within("redis", 2) == {"redis"}
    v1 = apply_update(g, {"op": "add_edge", "source": "cart", "target": "redis"})
    assert v1 == v0 + 1 and g.upstream_within("redis", 2) == {"redis", "cart", "frontend"}
    apply_update(g, {"op": "add_node", "name": "node-1", "kind": "host"})
    apply_update(g, {"op": "remove_edge", "source": "frontend", "target": "cart"})
    assert g.upstream_within("redis", 2) == {"redis", "cart"}
    with pytest.raises(ConflictError):
        apply_update(g, {"op": "remove_node", "name": "cart", "expected_version": 1})
    with pytest.raises(ConfigError):
        apply_update(g, {"op": "explode"})
    with pytest.raises(ConfigError):
        apply_update(g, {"op": "add_edge", "source": "a"})
    before = g.version
    assert apply_update(g, {"op": "replace", "topology": {"services": [{"name": "solo"}]},
                            "expected_version": before}) == before + 1
    assert list(g) == ["solo"]
