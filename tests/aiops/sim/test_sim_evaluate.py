"""Evaluation metrics on hand-made truths, and the simulate / eval rca commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aiops.cli_sim import app
from aiops.model import Alert, AlertStatus
from aiops.sim.evaluate import evaluate_events, evaluate_suite, standard_suite
from aiops.sim.scenario import FaultTruth, GroundTruth, alert_key
from correlator.baseline import NaiveCorrelator
from correlator.config import CorrelatorConfig
from correlator.engine import TopologyCorrelator
from topology.graph import ServiceGraph


def _alert(name: str, service: str, ts: float, score: float) -> Alert:
    return Alert({"alertname": name, "service": service}, {"score": str(score)}, starts_at=ts)


def test_metrics_on_a_known_case() -> None:
    g = ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis"), ("ads", "adsdb")])
    fault = [_alert("HighCPU", "redis", 100, 5), _alert("Lat", "cart", 115, 9),
             _alert("Lat", "frontend", 130, 9)]
    noise = _alert("Lat", "adsdb", 120, 3)
    events = [(a.starts_at, a) for a in sorted([*fault, noise], key=lambda a: a.starts_at)]
    events.append((140.0, fault[0]))  # a repeat: not a new episode
    causes = {alert_key(a): "f0" for a in fault} | {alert_key(noise): "noise"}
    truth = GroundTruth("redis", "cpu", 90.0, (FaultTruth("f0", "cpu", "redis", 90.0),), causes)
    res = evaluate_events("t", events, truth,
                          TopologyCorrelator(CorrelatorConfig(confirm_after=0), graph=g), g)
    assert res.ranks == [1]
    assert res.episodes == 4 and res.incidents == 2
    assert (res.pairs_tp, res.pairs_pred, res.pairs_true) == (3, 3, 3)
    assert res.ttfi == [10.0]
    naive = evaluate_events("t", events, truth, NaiveCorrelator(window=300), g)
    assert naive.incidents == 1 and naive.pairs_pred == 6 and naive.ranks == [3]


def test_suite_mixes_every_kind_and_runs_both_correlators() -> None:
    cases = standard_suite(14, seed=500, sizes=(10,))
    assert {c.fault for c in cases} == {"cpu", "memory", "latency", "error", "crash", "host",
                                        "deploy"}
    reports = evaluate_suite(cases[:7], {
        "engine": lambda g: TopologyCorrelator(graph=g),
        "naive": lambda g: NaiveCorrelator()}, duration=1200)
    for report in reports.values():
        s = report.summary()
        assert s["scenarios"] == 7 and 0 <= s["AC@1"] <= s["AC@3"] <= 1
        assert 0 < s["compression"] < 1


def test_simulate_then_eval_dataset(tmp_path: Path) -> None:
    out = tmp_path / "sc"
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--out", str(out), "--services", "10", "--fault",
                              "latency", "--duration", "1200", "--seed", "4"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["fault"] == "latency" and info["metrics"] == 10 * 4 * 80
    for name in ("topology.json", "alerts.jsonl", "truth.json", "metrics.jsonl", "logs.jsonl"):
        assert (out / name).stat().st_size > 0
    res = runner.invoke(app, ["eval", "rca", "--dataset", str(out), "--json",
                              str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["engine"]["scenarios"] == 1 and "naive-baseline" in report


def test_bare_alertmanager_lines_are_accepted(tmp_path: Path) -> None:
    from aiops.sim.files import read_alert_events
    p = tmp_path / "alerts.jsonl"
    p.write_text(json.dumps({"labels": {"alertname": "X", "service": "a"},
                             "startsAt": "2026-11-23T00:00:00Z",
                             "endsAt": "2026-11-23T00:05:00Z", "status": "resolved"}) + "\n")
    [(sent, alert)] = read_alert_events(p)
    assert alert.status == AlertStatus.RESOLVED and sent == alert.ends_at


def test_transient_noise_dropped_by_the_hold_is_not_an_incident() -> None:
    g = ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis"), ("ads", "adsdb")])
    fault = [_alert("HighCPU", "redis", 100, 5), _alert("Lat", "cart", 115, 9)]
    blip = _alert("Lat", "adsdb", 120, 3)
    blip_end = Alert(blip.labels, blip.annotations, starts_at=120.0, ends_at=180.0,
                     status=AlertStatus.RESOLVED)
    events = [(a.starts_at, a) for a in [*fault, blip]] + [(180.0, blip_end), (400.0, fault[0])]
    causes = {alert_key(a): "f0" for a in fault} | {alert_key(blip): "noise"}
    truth = GroundTruth("redis", "cpu", 90.0, (FaultTruth("f0", "cpu", "redis", 90.0),), causes)
    held = evaluate_events("t", events, truth, TopologyCorrelator(graph=g), g)
    assert held.episodes == 3 and held.incidents == 1 and held.ranks == [1]
    assert held.ttfi == [25.0]  # raised when the second alert corroborated the first
    eager = evaluate_events("t", events, truth,
                            TopologyCorrelator(CorrelatorConfig(confirm_after=0), graph=g), g)
    assert eager.incidents == 2 and eager.ttfi == [10.0]
