"""The service graph: what depends on what, and which queries the correlator needs fast.

Every edge reads "source depends on target": ``frontend -calls-> cart``, ``cart -calls-> redis``,
``cart-7d9f -runs-on-> node-3``, ``cart -depends-on-> cart-7d9f``. A fault therefore spreads
against the edges (from a callee to its callers), which is why :meth:`ServiceGraph.upstream`
(everything that depends on a node, transitively) is also its blast radius.

The graph is a thin layer over :class:`networkx.DiGraph` that adds a ``version`` bumped on
every change (so consumers can tell snapshots apart and caches know when to drop), typed node
kinds and labels, and cached neighbourhood queries: the correlator asks "which nodes are within
k hops of this one?" for every alert, so the answer is memoised per graph version.

>>> g = ServiceGraph()
>>> g.add_edge("frontend", "cart")
>>> g.add_edge("cart", "redis", kind="calls")
>>> sorted(g.downstream("frontend"))
['cart', 'redis']
>>> sorted(g.upstream("redis"))
['cart', 'frontend']
>>> sorted(g.within_hops("cart", 1))
['cart', 'frontend', 'redis']
>>> g.version
2
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from aiops.model import ConfigError, NotFoundError

NODE_KINDS = frozenset({"service", "pod", "host", "database", "queue", "cache", "deployment",
                        "external"})
EDGE_KINDS = frozenset({"calls", "depends-on", "runs-on"})
#: How a node relates to others for grouping: along edges either way, or only ancestor/descendant.
DIRECTED = "directed"
UNDIRECTED = "undirected"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as the outside world sees it."""

    name: str
    kind: str = "service"
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EdgeInfo:
    """A dependency: ``source`` depends on ``target``."""

    source: str
    target: str
    kind: str = "calls"
    weight: float = 1.0


class ServiceGraph:
    """A versioned dependency graph of services, pods, hosts, databases and queues."""

    def __init__(self) -> None:
        self._g: nx.DiGraph = nx.DiGraph()
        self.version = 0
        self._hop_cache: dict[tuple[str, int, str], frozenset[str]] = {}
        self._cache_version = 0

    # ------------------------------------------------------------------ building

    def add_node(self, name: str, kind: str = "service",
                 labels: Mapping[str, str] | None = None) -> None:
        """Add ``name`` or update its kind and labels (labels are merged)."""
        if kind not in NODE_KINDS:
            raise ConfigError(f"unknown node kind {kind!r} (one of {sorted(NODE_KINDS)})",
                              source=name)
        if name in self._g:
            data = self._g.nodes[name]
            merged = {**data.get("labels", {}), **(labels or {})}
            if data.get("kind") == kind and merged == data.get("labels", {}):
                return
            data["kind"] = kind
            data["labels"] = merged
        else:
            self._g.add_node(name, kind=kind, labels=dict(labels or {}))
        self._changed()

    def add_edge(self, source: str, target: str, kind: str = "calls",
                 weight: float = 1.0) -> None:
        """Add ``source -> target`` (source depends on target); unknown ends become services."""
        if kind not in EDGE_KINDS:
            raise ConfigError(f"unknown edge kind {kind!r} (one of {sorted(EDGE_KINDS)})",
                              source=f"{source}->{target}")
        if source == target:
            return
        for end in (source, target):
            if end not in self._g:
                self._g.add_node(end, kind="service", labels={})
        old = self._g.get_edge_data(source, target)
        if old is not None and old.get("kind") == kind and old.get("weight") == weight:
            return
        self._g.add_edge(source, target, kind=kind, weight=float(weight))
        self._changed()

    def remove_node(self, name: str) -> None:
        if name in self._g:
            self._g.remove_node(name)
            self._changed()

    def remove_edge(self, source: str, target: str) -> None:
        if self._g.has_edge(source, target):
            self._g.remove_edge(source, target)
            self._changed()

    def merge(self, other: ServiceGraph) -> None:
        """Add every node and edge of ``other`` (labels merge, other's edge kind wins)."""
        for node in other.nodes():
            self.add_node(node.name, node.kind, node.labels)
        for edge in other.edges():
            self.add_edge(edge.source, edge.target, edge.kind, edge.weight)

    def _changed(self) -> None:
        self.version += 1

    def copy(self) -> ServiceGraph:
        """An independent copy: the same nodes and edges, in the same order (so every
        neighbourhood set comes out alike), the same version, and nothing memoised yet."""
        other = ServiceGraph()
        other._g = deepcopy(self._g)
        other.version = self.version
        other._cache_version = self.version
        return other

    # ------------------------------------------------------------------ reading

    def __contains__(self, name: object) -> bool:
        return name in self._g

    def __len__(self) -> int:
        return int(self._g.number_of_nodes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._g.nodes)

    @property
    def nx(self) -> nx.DiGraph:
        """The underlying networkx graph; read it, do not change it (the version would lie)."""
        return self._g

    def node(self, name: str) -> NodeInfo:
        if name not in self._g:
            raise NotFoundError("node", name)
        data = self._g.nodes[name]
        return NodeInfo(name, data.get("kind", "service"), dict(data.get("labels", {})))

    def kind(self, name: str) -> str:
        return str(self._g.nodes[name].get("kind", "service")) if name in self._g else ""

    def nodes(self, kind: str | None = None) -> list[NodeInfo]:
        return [NodeInfo(n, d.get("kind", "service"), dict(d.get("labels", {})))
                for n, d in self._g.nodes(data=True) if kind is None or d.get("kind") == kind]

    def edges(self, kind: str | None = None) -> list[EdgeInfo]:
        return [EdgeInfo(s, t, d.get("kind", "calls"), float(d.get("weight", 1.0)))
                for s, t, d in self._g.edges(data=True) if kind is None or d.get("kind") == kind]

    def edge_kind(self, source: str, target: str) -> str | None:
        data = self._g.get_edge_data(source, target)
        return None if data is None else str(data.get("kind", "calls"))

    def callees(self, name: str) -> list[str]:
        """Direct dependencies of ``name``."""
        return list(self._g.successors(name)) if name in self._g else []

    def callers(self, name: str) -> list[str]:
        """Direct dependents of ``name``."""
        return list(self._g.predecessors(name)) if name in self._g else []

    def downstream(self, name: str, max_hops: int | None = None) -> set[str]:
        """Everything ``name`` depends on, transitively (within ``max_hops`` if given)."""
        return set(self._walk(name, max_hops, self._g.successors)) - {name}

    def upstream(self, name: str, max_hops: int | None = None) -> set[str]:
        """Everything that depends on ``name``, transitively (within ``max_hops`` if given)."""
        return set(self._walk(name, max_hops, self._g.predecessors)) - {name}

    def blast_radius(self, name: str, max_hops: int | None = None) -> set[str]:
        """The nodes a failure of ``name`` can reach: its upstream (dependents)."""
        return self.upstream(name, max_hops)

    def hosts_of(self, name: str) -> set[str]:
        """Hosts that ``name`` (a pod, or a service through its pods) runs on."""
        out: set[str] = set()
        for succ in self.callees(name):
            kind = self.edge_kind(name, succ)
            if kind == "runs-on":
                out.add(succ)
            elif kind == "depends-on" and self.kind(succ) == "pod":
                out.update(s for s in self.callees(succ)
                           if self.edge_kind(succ, s) == "runs-on")
        return out

    def within_hops(self, name: str, k: int, mode: str = UNDIRECTED) -> frozenset[str]:
        """Nodes within ``k`` hops of ``name`` (itself included), memoised per version.

        ``mode=UNDIRECTED`` follows edges either way (siblings sharing a database are 2 hops
        apart); ``mode=DIRECTED`` keeps only nodes that are ancestors or descendants of
        ``name`` within ``k`` hops, so two callers of one database are *not* related unless
        the database itself is involved.
        """
        if self._cache_version != self.version:
            self._hop_cache.clear()
            self._cache_version = self.version
        key = (name, k, mode)
        hit = self._hop_cache.get(key)
        if hit is not None:
            return hit
        if name not in self._g:
            result = frozenset((name,))
        elif mode == DIRECTED:
            result = frozenset(self._walk(name, k, self._g.successors)) | frozenset(
                self._walk(name, k, self._g.predecessors))
        else:
            result = frozenset(self._walk(name, k, self._both))
        self._hop_cache[key] = result
        return result

    def downstream_within(self, name: str, k: int) -> frozenset[str]:
        """``name`` and what it depends on within ``k`` hops, memoised per version."""
        return self._cached(name, k, "down", self._g._succ)

    def downstream_of_all(self, names: Iterable[str], k: int) -> frozenset[str]:
        """The union of :meth:`downstream_within` over ``names``, in one walk from all of
        them (not memoised: diagnosis asks it once per search, for sets that rarely repeat).

        >>> g = ServiceGraph.from_edges([("web", "api"), ("api", "db"), ("db", "disk"),
        ...                              ("mobile", "cache")])
        >>> sorted(g.downstream_of_all(["web", "mobile", "nowhere"], 2))
        ['api', 'cache', 'db', 'mobile', 'nowhere', 'web']
        """
        return _reach(names, k, self._g._succ)

    def upstream_within(self, name: str, k: int) -> frozenset[str]:
        """``name`` and what depends on it within ``k`` hops, memoised per version."""
        return self._cached(name, k, "up", self._g._pred)

    def structural(self, name: str) -> frozenset[str]:
        """What ``name`` directly runs on or is made of (``depends-on``/``runs-on``
        edges: a service's pods, a pod's host), as opposed to what it calls; memoised.

        >>> g = ServiceGraph.from_edges([("web", "db")])
        >>> g.add_node("web-0", "pod"); g.add_edge("web", "web-0", "depends-on")
        >>> sorted(g.structural("web"))
        ['web-0']
        """
        def parts() -> frozenset[str]:
            if name not in self._g:
                return frozenset()
            return frozenset(t for t, data in self._g.adj[name].items()
                             if data.get("kind") in ("depends-on", "runs-on"))

        return self._memo((name, 1, "structural"), parts)

    def replicas(self, name: str) -> frozenset[str]:
        """Other pods of the workload a pod belongs to (pods that a common parent depends
        on through ``depends-on`` edges), memoised per version; empty for non-pods.

        >>> g = ServiceGraph()
        >>> for p in ("cart-0", "cart-1"):
        ...     g.add_node(p, "pod")
        ...     g.add_edge("cart", p, "depends-on")
        >>> sorted(g.replicas("cart-0"))
        ['cart-1']
        """
        def siblings() -> frozenset[str]:
            found: set[str] = set()
            if name in self._g and self.kind(name) == "pod":
                for parent in self._g.predecessors(name):
                    if self._g.edges[parent, name].get("kind") != "depends-on":
                        continue
                    found.update(p for p in self._g.successors(parent)
                                 if self.kind(p) == "pod")
            found.discard(name)
            return frozenset(found)

        return self._memo((name, 0, "replicas"), siblings)

    def _memo(self, key: tuple[str, int, str],
              compute: Callable[[], frozenset[str]]) -> frozenset[str]:
        """``compute()`` once per key and topology version."""
        if self._cache_version != self.version:
            self._hop_cache.clear()
            self._cache_version = self.version
        hit = self._hop_cache.get(key)
        if hit is None:
            hit = compute()
            self._hop_cache[key] = hit
        return hit

    def _cached(self, name: str, k: int, tag: str, step: Any) -> frozenset[str]:
        if self._cache_version != self.version:
            self._hop_cache.clear()
            self._cache_version = self.version
        key = (name, k, tag)
        hit = self._hop_cache.get(key)
        if hit is None:
            hit = _reach((name,), k, step)
            self._hop_cache[key] = hit
        return hit

    def _both(self, name: str) -> Iterator[str]:
        yield from self._g.successors(name)
        yield from self._g.predecessors(name)

    def _walk(self, start: str, max_hops: int | None, step: Any) -> Iterator[str]:
        if start not in self._g:
            return
        seen = {start}
        frontier: deque[tuple[str, int]] = deque([(start, 0)])
        yield start
        while frontier:
            node, depth = frontier.popleft()
            if max_hops is not None and depth >= max_hops:
                continue
            for nxt in step(node):
                if nxt not in seen:
                    seen.add(nxt)
                    yield nxt
                    frontier.append((nxt, depth + 1))

    # ------------------------------------------------------------------ snapshots

    def to_dict(self) -> dict[str, Any]:
        """The file format of :func:`topology.loaders.load_topology`, plus the version."""
        return {
            "version": self.version,
            "services": [{"name": n.name, "kind": n.kind, "labels": dict(n.labels)}
                         for n in self.nodes()],
            "edges": [{"source": e.source, "target": e.target, "kind": e.kind,
                       "weight": e.weight} for e in self.edges()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "topology") -> ServiceGraph:
        """Build a graph from ``{"services": [...], "edges": [...]}`` (``nodes`` also accepted)."""
        if not isinstance(data, Mapping):
            raise ConfigError("a topology must be an object with 'services' and 'edges'",
                              source=source)
        graph = cls()
        nodes = data.get("services", data.get("nodes", [])) or []
        for i, raw in enumerate(nodes):
            if isinstance(raw, str):
                graph.add_node(raw)
                continue
            if not isinstance(raw, Mapping) or not raw.get("name"):
                raise ConfigError(f"services[{i}] needs a 'name'", source=source)
            labels = raw.get("labels") or {}
            if not isinstance(labels, Mapping):
                raise ConfigError(f"services[{i}].labels must be an object", source=source)
            graph.add_node(str(raw["name"]), str(raw.get("kind", "service")),
                           {str(k): str(v) for k, v in labels.items()})
        for i, raw in enumerate(data.get("edges", []) or []):
            if not isinstance(raw, Mapping) or not raw.get("source") or not raw.get("target"):
                raise ConfigError(f"edges[{i}] needs 'source' and 'target'", source=source)
            try:
                weight = float(raw.get("weight", 1.0))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"edges[{i}].weight must be a number", source=source) from exc
            graph.add_edge(str(raw["source"]), str(raw["target"]),
                           str(raw.get("kind", "calls")), weight)
        if isinstance(data.get("version"), int):
            graph.version = int(data["version"])
        return graph

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]], kind: str = "calls") -> ServiceGraph:
        graph = cls()
        for source, target in edges:
            graph.add_edge(source, target, kind)
        return graph


def _reach(starts: Iterable[str], k: int, adjacency: Any) -> frozenset[str]:
    """``starts`` and every node within ``k`` steps of one of them along ``adjacency``,
    level by level with set unions (a node is within ``k`` of one start exactly when its
    distance from the set of starts is at most ``k``, so one walk serves them all; a start
    not in ``adjacency`` reaches only itself). ``adjacency`` is networkx's raw
    ``_succ``/``_pred`` dict of dicts: its public views build a wrapper per lookup, and the
    ranking asks for the 4-hop neighbourhood of every alerting node, so these cold walks
    led the cost of a storm."""
    seen = set(starts)
    frontier = [n for n in seen if n in adjacency]
    for _ in range(k):
        step: set[str] = set()
        for node in frontier:
            step.update(adjacency[node])
        step -= seen
        if not step:
            break
        seen |= step
        frontier = list(step)
    return frozenset(seen)
