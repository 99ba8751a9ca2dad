"""Deviation summaries from the detect stage to the correlate stage, as the engine builds
them (real stages, real correlator, real SQLite store; no broker): a quiet slow callee is
named as the root cause of its caller's alert, and a bad summary goes to the dead letters."""

from __future__ import annotations

import random
from pathlib import Path

from aiops.app import Engine
from aiops.model.deviation import decode_deviations
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.wire.shapes import decode_incident, dumps, encode_alert
from streams.stage import Incoming

T0 = 1_790_000_000.0


def _engine(tmp_path: Path) -> Engine:
    topo = tmp_path / "topology.csv"
    topo.write_text("source,target\nweb,catalog\nmobile,catalog\nweb,ads\n", encoding="utf-8")
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'stage.db'}"
    settings.correlation.topology_file = str(topo)
    settings.correlation.confirm_after_s = 0.0
    return Engine.build(settings, bootstrap_servers="")


def _metrics(engine: Engine, minute: int, latency: dict[str, float]) -> Incoming:
    ts = T0 + 60 * minute
    return Incoming(engine.topics.metrics, dumps({"samples": [
        {"name": "latency", "labels": {"service": s, "statistic": "p95"}, "ts": ts, "value": v}
        for s, v in latency.items()]}))


def test_deviations_flow_from_detect_to_the_ranking(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    detect = engine.stage("detect")
    rnd = random.Random(1)
    calm = [_metrics(engine, m, {s: base * (1 + rnd.uniform(-0.05, 0.05))
                                 for s, base in [("web", 0.2), ("catalog", 0.03),
                                                 ("ads", 0.05)]})
            for m in range(60)]
    assert [r for r in detect.handle(calm).outputs
            if r.topic == engine.topics.deviations] == []
    slow = detect.handle([_metrics(engine, 60, {"web": 0.9, "catalog": 0.41, "ads": 0.05})])
    records = [r for r in slow.outputs if r.topic == engine.topics.deviations]
    devs = {d.node: d for r in records for d in decode_deviations(r.value)}
    assert sorted(devs) == ["catalog", "web"] and devs["catalog"].value == 0.41

    correlate = engine.stage("correlate")
    assert isinstance(correlate, CorrelateStage)
    assert engine.topics.deviations in correlate.topics()
    correlate.start()
    # the caller's latency alerted (from Alertmanager, say); the callee never did
    from aiops.model import Alert

    alert = Alert({"alertname": "HighLatency", "service": "web", "severity": "warning"},
                  {}, starts_at=T0 + 3600)
    batch = [Incoming(r.topic, r.value) for r in records]
    batch.append(Incoming(engine.topics.deviations, b'{"deviations": [{"node": 1}]}'))
    batch.append(Incoming(engine.topics.alerts, encode_alert(alert)))
    result = correlate.handle(batch)
    assert len(result.dead) == 1 and "deviation" in result.dead[0].reason
    incidents = [decode_incident(r.value) for r in result.outputs
                 if r.topic == engine.topics.incidents]
    top = incidents[-1].root_causes[0]
    assert top.service == "catalog"
    assert top.evidence[0].startswith("catalog: latency p95 0.41 vs 0.03")


def _logs(engine: Engine, records: list[tuple[float, str, str, str]]) -> Incoming:
    return Incoming(engine.topics.logs, dumps({"records": [
        {"ts": ts, "service": service, "level": level, "message": message}
        for ts, service, level, message in records]}))


def _error_ratio(engine: Engine, minute: int, ratio: dict[str, float]) -> Incoming:
    ts = T0 + 60 * minute
    return Incoming(engine.topics.metrics, dumps({"samples": [
        {"name": "http_error_ratio", "labels": {"service": s}, "ts": ts, "value": v}
        for s, v in ratio.items()]}))


def test_a_callee_whose_logs_fill_with_new_errors_is_named_while_its_metrics_stay_quiet(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    detect = engine.stage("detect")
    rnd = random.Random(2)
    batches = []
    for minute in range(60):
        batches.append(_error_ratio(engine, minute, {
            s: base * (1 + rnd.uniform(-0.05, 0.05))
            for s, base in [("web", 0.01), ("catalog", 0.002), ("ads", 0.001)]}))
        ts = T0 + 60 * minute
        batches.append(_logs(engine, [(ts + 5, "catalog", "info", f"served {rnd.randint(1, 99)}"),
                                      (ts + 9, "catalog", "error", f"retry {minute} of 3")]))
    calm = detect.handle(batches)
    assert [r for r in calm.outputs if r.topic == engine.topics.deviations] == []

    burst = [(T0 + 3600 + i, "catalog", "error",
              f"NullPointerException in CatalogService.load(id={1000 + i})") for i in range(30)]
    outputs = detect.handle([
        _error_ratio(engine, 60, {"web": 0.4, "catalog": 0.00201, "ads": 0.001}),
        _logs(engine, burst),
        _error_ratio(engine, 61, {"web": 0.41, "catalog": 0.002, "ads": 0.001}),
        _logs(engine, [(T0 + 3665, "catalog", "info", "served 3")]),
    ]).outputs
    records = [r for r in outputs if r.topic == engine.topics.deviations]
    logged = [d for r in records for d in decode_deviations(r.value) if d.node == "catalog"]
    assert {d.family for d in logged} == {"log_errors", "log_new_error"}
    assert all(d.since <= T0 + 3600 < d.since + 60 and d.kind == "errors" for d in logged)

    correlate = engine.stage("correlate")
    correlate.start()
    from aiops.model import Alert

    alert = Alert({"alertname": "HighErrorRate", "service": "web", "severity": "critical"},
                  {}, starts_at=T0 + 3600)
    batch = [Incoming(r.topic, r.value) for r in records]
    batch.append(Incoming(engine.topics.alerts, encode_alert(alert)))
    incidents = [decode_incident(r.value) for r in correlate.handle(batch).outputs
                 if r.topic == engine.topics.incidents]
    top = incidents[-1].root_causes[0]
    assert top.service == "catalog", "\n".join(map(str, incidents[-1].root_causes))
    assert any("error log" in line for line in top.evidence), top.evidence
