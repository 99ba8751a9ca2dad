"""Random microservice topologies: layered call DAGs with skewed fan-in, shared data stores,
pods and hosts.

Services are ordered; a service calls only services later in the order, so the call graph is
acyclic like most real request paths. Callees are drawn with preferential attachment (a
popular service attracts more callers), mostly from a nearby "subsystem" slice of the order,
which gives the heavy-tailed fan-in and loose clustering seen in published microservice call
graphs. The last tenth are data stores (databases, caches, queues), several shared by many
services. Every service runs 1..3 pods spread over hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from topology.graph import ServiceGraph

SMALL_NAMES = ["frontend", "checkout", "cart", "catalog", "recommendation", "payment",
               "shipping", "currency", "email", "ads", "auth", "search", "inventory", "reviews",
               "orders", "profile", "notification", "pricing", "gateway", "analytics"]
STORE_NAMES = ["redis", "postgres", "kafka", "mongodb", "mysql", "memcached", "elasticsearch",
               "rabbitmq", "cassandra", "etcd"]
STORE_KINDS = ["cache", "database", "queue", "database", "database", "cache", "database",
               "queue", "database", "database"]


@dataclass(frozen=True, slots=True)
class SimTopology:
    """What the generator made: the graph, its file form, and the service table."""

    graph: ServiceGraph
    document: dict[str, Any]
    services: list[str]
    kinds: list[str]
    pods: dict[str, list[str]]
    hosts: dict[str, str]  # pod -> host


def _names(n_services: int) -> tuple[list[str], list[str]]:
    n_stores = max(1, round(n_services * 0.1)) if n_services >= 4 else 0
    n_apps = n_services - n_stores
    if n_apps <= len(SMALL_NAMES) and n_stores <= len(STORE_NAMES):
        apps = SMALL_NAMES[:n_apps]
        stores = STORE_NAMES[:n_stores]
        kinds = ["service"] * n_apps + STORE_KINDS[:n_stores]
    else:
        width = len(str(n_services))
        apps = [f"svc-{i:0{width}d}" for i in range(n_apps)]
        stores = [f"db-{i:0{width}d}" for i in range(n_stores)]
        kinds = ["service"] * n_apps + [STORE_KINDS[i % len(STORE_KINDS)]
                                        for i in range(n_stores)]
    return apps + stores, kinds


def generate_topology(n_services: int, rng: np.random.Generator,
                      mean_fanout: float = 2.5, pods_per_service: tuple[int, int] = (1, 3),
                      services_per_host: int = 8) -> SimTopology:
    """Build a topology of ``n_services`` nodes (services plus data stores)."""
    if n_services < 2:
        raise ValueError("need at least 2 services")
    names, kinds = _names(n_services)
    n = len(names)
    n_stores = sum(1 for k in kinds if k != "service")
    n_apps = n - n_stores
    n_entry = max(1, round(n_apps * 0.05))
    graph = ServiceGraph()
    for name, kind in zip(names, kinds, strict=True):
        graph.add_node(name, kind, {"tier": "data" if kind != "service" else
                                    ("edge" if names.index(name) < n_entry else "app")})
    indeg = np.ones(n)
    subsystem = max(8, int(np.sqrt(n) * 3))
    for i in range(n_apps):
        lo = i + 1
        if lo >= n:
            break
        k_app = 0 if lo >= n_apps else 1 + rng.geometric(1.0 / max(mean_fanout - 0.5, 1.0)) - 1
        # app callees: mostly a nearby slice, sometimes anywhere later in the order
        chosen: set[int] = set()
        if lo < n_apps:
            span_hi = min(n_apps, lo + subsystem) if rng.random() < 0.8 else n_apps
            pool = np.arange(lo, span_hi)
            for _ in range(min(int(k_app), len(pool))):
                w = indeg[pool] / indeg[pool].sum()
                chosen.add(int(rng.choice(pool, p=w)))
        # data stores: 0..2, shared
        if n_stores and (i >= n_entry or n_apps == 1):
            for _ in range(int(rng.integers(0, 3))):
                j = n_apps + int(rng.integers(0, n_stores))
                chosen.add(j)
        if not chosen and i < n_apps - 1:
            chosen.add(int(rng.integers(lo, n_apps)) if lo < n_apps else n_apps)
        for j in sorted(chosen):
            indeg[j] += 1
            graph.add_edge(names[i], names[j], "calls")
    # services nobody calls (besides entries) get a caller so the graph is connected
    for j in range(n_entry, n):
        if not graph.callers(names[j]):
            caller = int(rng.integers(0, min(j, n_apps)))
            graph.add_edge(names[caller], names[j], "calls")
    n_hosts = max(2, int(np.ceil(n / services_per_host)))
    hosts = [f"host-{h:0{len(str(n_hosts))}d}" for h in range(n_hosts)]
    for host in hosts:
        graph.add_node(host, "host")
    pods: dict[str, list[str]] = {}
    pod_host: dict[str, str] = {}
    for name in names:
        count = int(rng.integers(pods_per_service[0], pods_per_service[1] + 1))
        pods[name] = []
        for r in range(count):
            pod = f"{name}-{r}"
            host = hosts[int(rng.integers(0, n_hosts))]
            graph.add_node(pod, "pod", {"service": name, "host": host})
            graph.add_edge(name, pod, "depends-on")
            graph.add_edge(pod, host, "runs-on")
            pods[name].append(pod)
            pod_host[pod] = host
    return SimTopology(graph=graph, document=graph.to_dict(), services=names, kinds=kinds,
                       pods=pods, hosts=pod_host)
