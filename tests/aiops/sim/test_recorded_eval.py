"""Root-cause evaluation on recorded telemetry: the PetShop layout, read and run online
through the real alerter, deviation tracker and correlator."""

from __future__ import annotations

import json
import random
from pathlib import Path

from aiops.sim.recorded import is_recorded, load_recorded, metric_rows
from aiops.sim.recorded_eval import evaluate_recorded, standard_pipelines

STEP = 300.0
T_NORMAL = 1_690_000_000.0
T_CASE = 1_680_000_000.0  # recorded months before the fault-free data, as PetShop's
BASE = {"web": 0.30, "api": 0.10, "db": 0.02, "cache": 0.01}


def _line(service: str, ts: float, value: float, stat: str = "p95") -> str:
    return json.dumps({"name": "latency", "labels": {"service": service, "statistic": stat},
                       "ts": ts, "value": value})


def _write(root: Path) -> Path:
    sc = root / "shop"
    (sc / "normal").mkdir(parents=True)
    (sc / "topology.csv").write_text("source,target\nweb,api\napi,db\nweb,cache\n",
                                     encoding="utf-8")
    rnd = random.Random(7)
    lines = [_line(s, T_NORMAL + i * STEP, b * (1 + rnd.uniform(-0.05, 0.05)))
             for i in range(400) for s, b in BASE.items()]
    lines.append('{"name": "latency", "labels": {"service": "web"}, "ts": 1, "value": NaN}')
    (sc / "normal" / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    case = sc / "test" / "issue_0"
    case.mkdir(parents=True)
    slow = {"web": 3.0, "api": 6.0, "db": 30.0, "cache": 1.0}
    rows = []
    for i in range(5):
        for s, b in BASE.items():
            factor = slow[s] if i >= 1 else 1.0
            rows.append(_line(s, T_CASE + i * STEP, b * factor * (1 + rnd.uniform(-0.05, 0.05))))
    (case / "metrics.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (case / "truth.json").write_text(json.dumps({
        "service": "db", "fault": "delay", "inject_ts": T_CASE + STEP,
        "window_start": T_CASE, "window_end": T_CASE + 4 * STEP,
        "target": {"node": "web"}}), encoding="utf-8")
    return root


def test_the_layout_is_read_with_its_truth(tmp_path: Path) -> None:
    root = _write(tmp_path)
    assert is_recorded(root) and is_recorded(root / "shop")
    (sc,) = load_recorded(root)
    assert sc.edges == [("web", "api"), ("api", "db"), ("web", "cache")]
    (case,) = sc.cases
    assert (case.name, case.root, case.target, case.split) == (
        "shop/test/issue_0", "db", "web", "test")
    assert len(metric_rows(sc.normal_metrics)) == 1600  # the NaN line is skipped


def test_a_slow_database_is_found_online_and_baselines_run_alongside(tmp_path: Path) -> None:
    reports = evaluate_recorded(load_recorded(_write(tmp_path)), standard_pipelines("chain"),
                                warmup=12 * 3600.0)
    assert set(reports) == {"engine/chain", "rule/deepest", "previous/composite-alerts-only"}
    engine = reports["engine/chain"]
    (result,) = engine.cases
    assert result.detected and result.rank == 1 and result.top[0] == "db"
    assert result.tti is not None and result.tti < 3 * STEP
    summary = engine.summary()
    assert summary["all"]["AC@1"] == 1.0 and summary["shop/test"]["cases"] == 1
    incidents, hours = engine.false_incidents["shop"]
    assert hours > 10 and summary["fault_free"]["incidents_per_hour"] == round(
        incidents / hours, 3)
    # the previous ranking sees only alerting nodes
    prev = reports["previous/composite-alerts-only"].cases[0]
    assert prev.detected
