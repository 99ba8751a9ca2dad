"""The simulator: deterministic per seed, faults after warm-up, propagation, truth."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.sim import FAULT_KINDS, alert_key, generate


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_alerts_on_its_root_after_warmup(kind: str) -> None:
    sc = generate(n_services=12, fault=kind, seed=7, duration=1800, logs=False)
    assert sc.truth.kind == kind
    assert sc.truth.start >= sc.start + 0.6 * 1800
    caused = [a for a in sc.alerts if sc.truth.causes[alert_key(a)] == "f0"]
    assert caused, "the fault produced no alert"
    nodes = {a.labels.get("service") or a.labels.get("host") for a in caused}
    if kind == "host":
        assert any(a.name == "HostDown" and a.labels["host"] == sc.truth.root for a in caused)
    else:
        assert sc.truth.root in nodes
    assert min(a.starts_at for a in caused) >= sc.truth.start - sc.step


def test_same_seed_same_scenario_other_seed_differs() -> None:
    a = generate(n_services=10, fault="latency", seed=3, duration=1200)
    b = generate(n_services=10, fault="latency", seed=3, duration=1200)
    c = generate(n_services=10, fault="latency", seed=4, duration=1200)
    assert a.alerts == b.alerts and a.logs == b.logs and a.topology == b.topology
    assert np.array_equal(a.series["cpu"], b.series["cpu"])
    assert a.topology != c.topology or a.alerts != c.alerts


def test_metrics_have_four_series_per_service_with_service_label() -> None:
    sc = generate(n_services=10, fault="cpu", seed=1, duration=600, step=15)
    assert len(sc.metrics) == 10 * 4 * 40
    assert {m.name for m in sc.metrics} == {"cpu", "memory", "latency_ms", "error_rate"}
    assert {m.labels["service"] for m in sc.metrics} == set(sc.services)
    assert sc.logs and all(r.service for r in sc.logs)


def test_root_anomaly_is_earliest_and_callers_follow() -> None:
    sc = generate(n_services=10, fault="latency", seed=2, duration=3600)
    root = sc.truth.root
    fault = sc.faults[0]
    callers = sc.graph.upstream(root) & set(sc.services)
    affected = set(fault.delays)
    assert affected and affected <= callers
    assert all(d > 0 for d in fault.delays.values())
    i = sc.services.index(root)
    lat = sc.series["latency_ms"][i]
    before = lat[sc.times < sc.truth.start].mean()
    assert lat[-10:].mean() > 1.5 * before


def test_large_topology_is_a_connected_dag_with_pods_and_hosts() -> None:
    sc = generate(n_services=500, fault="host", seed=5, duration=900, logs=False)
    g = sc.graph
    calls = [(e.source, e.target) for e in g.edges("calls")]
    import networkx as nx
    dag = nx.DiGraph(calls)
    assert nx.is_directed_acyclic_graph(dag)
    assert len(g.nodes("service")) + len(g.nodes("database")) + len(g.nodes("cache")) + \
        len(g.nodes("queue")) == 500
    assert g.nodes("host") and g.nodes("pod")
    indeg = sorted((d for _, d in dag.in_degree()), reverse=True)
    assert indeg[0] >= 10  # some shared dependencies with large fan-in
