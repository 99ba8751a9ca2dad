"""Scenario datasets on disk: what ``aiops simulate`` writes and ``aiops eval rca`` reads.

A dataset directory holds ``topology.json``, ``alerts.jsonl`` (one line per notification:
``{"sent_at": ts, "alert": <Alertmanager alert>}``; a bare alert object is accepted too and
is taken as sent at its own start or end), ``truth.json``, and optionally ``metrics.jsonl``
and ``logs.jsonl``. A recorded dataset from a real system uses the same layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from aiops.model import Alert, ConfigError
from aiops.sim.scenario import GroundTruth, Scenario
from aiops.wire.shapes import alert_from_dict, alert_to_dict, log_to_dict, metric_to_dict
from topology.graph import ServiceGraph
from topology.loaders import load_topology


def write_scenario(sc: Scenario, out: Path, metrics: bool = True, logs: bool = True) -> dict[str,
                                                                                          int]:
    """Write ``sc`` under ``out``; returns the number of records per file."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "topology.json").write_text(json.dumps(sc.topology, indent=1), encoding="utf-8")
    (out / "truth.json").write_text(json.dumps(sc.truth.to_dict(), indent=1), encoding="utf-8")
    counts = {"alerts": len(sc.alert_events)}
    with (out / "alerts.jsonl").open("wb") as fh:
        for ts, alert in sc.alert_events:
            fh.write(orjson.dumps({"sent_at": ts, "alert": alert_to_dict(alert)}) + b"\n")
    if metrics:
        with (out / "metrics.jsonl").open("wb") as fh:
            for sample in sc.metrics:
                fh.write(orjson.dumps(metric_to_dict(sample)) + b"\n")
        counts["metrics"] = len(sc.metrics)
    if logs:
        with (out / "logs.jsonl").open("wb") as fh:
            for record in sc.logs:
                fh.write(orjson.dumps(log_to_dict(record)) + b"\n")
        counts["logs"] = len(sc.logs)
    return counts


def read_alert_events(path: Path) -> list[tuple[float, Alert]]:
    events: list[tuple[float, Alert]] = []
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw: Any = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"line {lineno}: {exc}", source=str(path)) from exc
            if isinstance(raw, dict) and "alert" in raw:
                alert = alert_from_dict(raw["alert"])
                sent = float(raw.get("sent_at", alert.starts_at))
            else:
                alert = alert_from_dict(raw)
                sent = alert.starts_at if alert.firing else (alert.ends_at or alert.starts_at)
            events.append((sent, alert))
    events.sort(key=lambda pair: pair[0])
    return events


def read_dataset(directory: Path) -> tuple[ServiceGraph, list[tuple[float, Alert]], GroundTruth]:
    """Load a dataset directory (see the module docstring)."""
    for name in ("topology.json", "alerts.jsonl", "truth.json"):
        if not (directory / name).exists():
            hint = " (alerts come from running the detectors: aiops replay)" \
                if name == "alerts.jsonl" else ""
            raise ConfigError(f"missing {name}{hint}", source=str(directory))
    graph = load_topology(directory / "topology.json")
    events = read_alert_events(directory / "alerts.jsonl")
    truth = GroundTruth.from_dict(json.loads((directory / "truth.json").read_text("utf-8")))
    return graph, events, truth
