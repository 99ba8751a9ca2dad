"""Service graph queries, versions and file loaders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops.model import ConfigError
from topology.graph import DIRECTED, ServiceGraph
from topology.loaders import load_csv_edges, load_topology, save_topology
from topology.mapping import LabelMapper, MappingRule, rules_from_config

DOC = {
    "services": [{"name": "frontend", "kind": "service", "labels": {"team": "web"}},
                 {"name": "cart"}, {"name": "redis", "kind": "cache"},
                 {"name": "node-1", "kind": "host"}],
    "edges": [{"source": "frontend", "target": "cart", "kind": "calls"},
              {"source": "cart", "target": "redis"},
              {"source": "checkout", "target": "cart"},
              {"source": "cart", "target": "node-1", "kind": "runs-on"}],
}


def test_queries() -> None:
    g = ServiceGraph.from_dict(DOC)
    assert g.downstream("frontend") == {"cart", "redis", "node-1"}
    assert g.upstream("redis") == {"cart", "frontend", "checkout"}
    assert g.blast_radius("cart", max_hops=1) == {"frontend", "checkout"}
    assert g.within_hops("frontend", 2) == {"frontend", "cart", "checkout", "redis", "node-1"}
    # two callers of cart are siblings: related undirected, not directed
    assert "checkout" not in g.within_hops("frontend", 2, DIRECTED)
    assert g.hosts_of("cart") == {"node-1"}
    assert g.node("redis").kind == "cache" and g.node("frontend").labels == {"team": "web"}


def test_versions_change_with_every_update_and_invalidate_caches() -> None:
    g = ServiceGraph.from_dict(DOC)
    v = g.version
    assert g.within_hops("redis", 1) == {"redis", "cart"}
    g.add_edge("search", "redis")
    assert g.version == v + 1
    assert g.within_hops("redis", 1) == {"redis", "cart", "search"}
    g.add_edge("search", "redis")  # no change, no new version
    assert g.version == v + 1
    g.remove_node("search")
    assert g.version == v + 2 and "search" not in g


def test_round_trip_json_yaml_and_csv(tmp_path: Path) -> None:
    g = ServiceGraph.from_dict(DOC)
    for name in ("t.json", "t.yaml"):
        save_topology(g, tmp_path / name)
        back = load_topology(tmp_path / name)
        assert {(e.source, e.target, e.kind) for e in back.edges()} == \
            {(e.source, e.target, e.kind) for e in g.edges()}
        assert back.node("redis").kind == "cache"
    csv = tmp_path / "edges.csv"
    csv.write_text("source,target,weight\nfrontend,cart,2.5\n# comment\ncart,redis\n"
                   "cart,node-1,,runs-on\n")
    cg = load_topology(csv)
    assert cg.nx["frontend"]["cart"]["weight"] == 2.5
    assert cg.edge_kind("cart", "node-1") == "runs-on"
    assert load_csv_edges(csv).downstream("frontend") == {"cart", "redis", "node-1"}


@pytest.mark.parametrize("text,suffix", [("{", ".json"), ("services: [{kind: x}]", ".yaml"),
                                         ("a\n", ".csv"), ("a,b,heavy\n", ".csv")])
def test_bad_files_raise_config_error(tmp_path: Path, text: str, suffix: str) -> None:
    p = tmp_path / f"bad{suffix}"
    p.write_text(text)
    with pytest.raises(ConfigError):
        load_topology(p)


def test_unknown_kinds_rejected() -> None:
    with pytest.raises(ConfigError):
        ServiceGraph.from_dict({"edges": [{"source": "a", "target": "b", "kind": "likes"}]})
    with pytest.raises(ConfigError):
        load_topology(Path("/nonexistent/topology.json"))


def test_label_mapping_rules() -> None:
    g = ServiceGraph.from_dict(json.loads(json.dumps(DOC)))
    default = LabelMapper(graph=g)
    assert default.node_for({"job": "node-exporter", "instance": "node-1:9100"}) == "node-1"
    assert default.node_for({"service": "cart", "pod": "cart-abc"}) == "cart"
    custom = LabelMapper(rules_from_config(
        [{"label": "k8s_deployment", "pattern": r"(.*)-v\d+"}, "service"]), graph=g)
    assert custom.node_for({"k8s_deployment": "redis-v2", "service": "cart"}) == "redis"
    assert LabelMapper([MappingRule("app", template="svc-{value}")]).node_for(
        {"app": "x"}) == "svc-x"
    with pytest.raises(ConfigError):
        rules_from_config([{"label": "x", "pattern": "("}])


def test_copy_is_independent_and_walks_alike() -> None:
    g = ServiceGraph.from_edges([("web", "cart"), ("cart", "db"), ("api", "db"),
                                 ("web", "api")])
    g.downstream_within("web", 2)  # memoised in the original only
    c = g.copy()
    assert c.version == g.version and not c._hop_cache
    assert list(c.downstream_within("web", 2)) == list(g.downstream_within("web", 2))
    assert list(c.upstream_within("db", 2)) == list(g.upstream_within("db", 2))
    c.add_edge("db", "disk")
    assert "disk" not in g and c.version == g.version + 1
