"""Topology from the Kubernetes API: services, deployments, pods and nodes.

Uses the official ``kubernetes`` client (its list calls, auth and TLS handling) and reads the
raw JSON of the list responses, which is cheaper than building the client's model objects
for thousands of pods. Kubernetes knows what runs where, not who calls whom, so this gives
``service -depends-on-> pod``, ``deployment -depends-on-> pod`` and ``pod -runs-on-> host``
edges; merge call edges from traces or service-graph metrics on top
(:meth:`topology.graph.ServiceGraph.merge`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiops.model import ConfigError
from topology.graph import ServiceGraph


def _items(response: Any) -> list[Mapping[str, Any]]:
    raw = response.data if hasattr(response, "data") else response
    doc = json.loads(raw) if isinstance(raw, bytes | str) else raw
    items = doc.get("items") if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        raise ConfigError("Kubernetes list response without 'items'", source="kubernetes")
    return items


def _selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def graph_from_kubernetes_lists(services: list[Mapping[str, Any]],
                                deployments: list[Mapping[str, Any]],
                                pods: list[Mapping[str, Any]],
                                nodes: list[Mapping[str, Any]],
                                qualify: bool = False) -> ServiceGraph:
    """Build the graph from already-fetched list items (``qualify`` names ``ns/name``)."""
    graph = ServiceGraph()

    def name_of(obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata", {})
        name = str(meta.get("name", ""))
        return f"{meta.get('namespace', 'default')}/{name}" if qualify else name

    for node in nodes:
        meta = node.get("metadata", {})
        graph.add_node(str(meta.get("name")), "host", {str(k): str(v) for k, v in
                                                       (meta.get("labels") or {}).items()})
    pod_index: list[tuple[str, str, Mapping[str, str]]] = []
    for pod in pods:
        meta = pod.get("metadata", {})
        ns = str(meta.get("namespace", "default"))
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        name = name_of(pod)
        phase = str((pod.get("status") or {}).get("phase", ""))
        graph.add_node(name, "pod", {**labels, "namespace": ns, "phase": phase})
        host = (pod.get("spec") or {}).get("nodeName")
        if host:
            graph.add_edge(name, str(host), "runs-on")
        pod_index.append((name, ns, labels))
    for kind, objects, selector_path in (("service", services, ("spec", "selector")),
                                         ("deployment", deployments,
                                          ("spec", "selector", "matchLabels"))):
        for obj in objects:
            meta = obj.get("metadata", {})
            ns = str(meta.get("namespace", "default"))
            name = name_of(obj)
            selector: Any = obj
            for key in selector_path:
                selector = (selector or {}).get(key)
            if not (kind == "deployment" and name in graph):
                # a Deployment usually shares its Service's name: keep the service node
                graph.add_node(name, kind, {"namespace": ns})
            for pod_name, pod_ns, pod_selector_labels in pod_index:
                if pod_ns == ns and _selects(selector, pod_selector_labels):
                    pod_labels = graph.node(pod_name).labels
                    if kind == "service" or "service" not in pod_labels:
                        graph.add_node(pod_name, "pod", {"service": name})
                    graph.add_edge(name, pod_name, "depends-on")
    return graph


def load_kubernetes(api_client: Any = None, qualify: bool = False) -> ServiceGraph:
    """List services, deployments, pods and nodes through ``api_client``.

    ``api_client`` is a :class:`kubernetes.client.ApiClient`; without one the usual
    kubeconfig / in-cluster configuration is loaded, as ``kubectl`` would.
    """
    from kubernetes import client, config

    if api_client is None:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        api_client = client.ApiClient()
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    try:
        services = _items(core.list_service_for_all_namespaces(_preload_content=False))
        pods = _items(core.list_pod_for_all_namespaces(_preload_content=False))
        nodes = _items(core.list_node(_preload_content=False))
        deployments = _items(apps.list_deployment_for_all_namespaces(_preload_content=False))
    except client.ApiException as exc:
        raise ConfigError(f"Kubernetes API error {exc.status}: {exc.reason}",
                          source="kubernetes") from exc
    return graph_from_kubernetes_lists(services, deployments, pods, nodes, qualify=qualify)


def api_client_for(host: str, token: str | None = None, verify_ssl: bool = True) -> Any:
    """An ApiClient for ``host`` (e.g. ``https://10.0.0.1:6443`` or a local proxy)."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = host
    cfg.verify_ssl = verify_ssl
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)
