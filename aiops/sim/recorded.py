"""Recorded root-cause datasets on disk: fault cases with their telemetry and truth.

The layout (PetShop's, and the one ``aiops eval rca --dataset`` reads for recorded
telemetry)::

    DIR/                      one scenario, or a directory of scenario directories
      topology.csv            source,target call edges (caller -> callee)
      normal/metrics.jsonl    fault-free telemetry, to warm detectors up (and to count
                              false incidents on)
      normal/logs.jsonl       optional
      <split>/<case>/metrics.jsonl, logs.jsonl (optional), truth.json

``truth.json`` names the root-cause node as ``service``, the ``fault`` kind, ``inject_ts``
(when the fault was seen) and optionally ``window_start``/``window_end`` and
``target.node`` (the node whose SLO violation revealed the fault). Metric lines are the
engine's wire format (``{"name", "labels", "ts", "value"}``).

This module uses the standard library only, so baselines that run in their own environment
(BARO from RCAEval) read the very same cases.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordedCase:
    """One injected fault: where its data is and what the truth is."""

    scenario: str
    split: str
    case: str
    root: str
    fault: str
    inject_ts: float
    window_start: float
    window_end: float
    directory: Path
    target: str = ""  # where the fault was seen (the SLO violation), if the truth says

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.split}/{self.case}"

    @property
    def metrics_path(self) -> Path:
        return self.directory / "metrics.jsonl"

    @property
    def logs_path(self) -> Path | None:
        path = self.directory / "logs.jsonl"
        return path if path.exists() else None


@dataclass(slots=True)
class RecordedScenario:
    """One system under one load: its call graph, fault-free data and fault cases."""

    name: str
    directory: Path
    edges: list[tuple[str, str]]
    cases: list[RecordedCase] = field(default_factory=list)

    @property
    def normal_metrics(self) -> Path:
        return self.directory / "normal" / "metrics.jsonl"

    @property
    def normal_logs(self) -> Path | None:
        path = self.directory / "normal" / "logs.jsonl"
        return path if path.exists() else None


def is_recorded(directory: Path) -> bool:
    """Whether ``directory`` holds a recorded dataset (one scenario or several)."""
    if (directory / "topology.csv").exists():
        return True
    return any((d / "topology.csv").exists() for d in directory.iterdir() if d.is_dir())


def read_edges(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["source", "target"]:
        rows = rows[1:]
    return [(r[0], r[1]) for r in rows if len(r) >= 2 and r[0] and r[1]]


def load_scenario(directory: Path) -> RecordedScenario:
    sc = RecordedScenario(directory.name, directory, read_edges(directory / "topology.csv"))
    for split_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        if split_dir.name == "normal":
            continue
        for case_dir in sorted(p for p in split_dir.iterdir() if (p / "truth.json").exists()):
            truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))
            inject = float(truth["inject_ts"])
            sc.cases.append(RecordedCase(
                scenario=sc.name, split=split_dir.name, case=case_dir.name,
                root=str(truth["service"]), fault=str(truth.get("fault", "")),
                inject_ts=inject, window_start=float(truth.get("window_start", inject)),
                window_end=float(truth.get("window_end", inject)), directory=case_dir,
                target=str((truth.get("target") or {}).get("node", ""))))
    sc.cases.sort(key=lambda c: (c.split, _case_order(c.case)))
    return sc


def _case_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def load_recorded(directory: Path) -> list[RecordedScenario]:
    """Every scenario under ``directory`` (itself, if it is one)."""
    if (directory / "topology.csv").exists():
        return [load_scenario(directory)]
    return [load_scenario(d) for d in sorted(directory.iterdir())
            if d.is_dir() and (d / "topology.csv").exists()]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file; lines that are not objects with a finite numeric
    ``value`` (metrics) are skipped, not fatal: recorded data has gaps."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                yield rec


def metric_rows(path: Path, shift: float = 0.0) -> list[tuple[float, str, dict[str, str],
                                                               float]]:
    """``(ts + shift, name, labels, value)`` of every usable metric line, in file order."""
    out: list[tuple[float, str, dict[str, str], float]] = []
    for rec in read_jsonl(path):
        value = rec.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            continue
        try:
            out.append((float(rec["ts"]) + shift, str(rec["name"]),
                        {str(k): str(v) for k, v in dict(rec.get("labels") or {}).items()},
                        float(value)))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def step_of(rows: list[tuple[float, str, dict[str, str], float]]) -> float:
    """The usual spacing of timestamps (the scrape or aggregation interval)."""
    stamps = sorted({r[0] for r in rows})
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps) if b > a)
    return gaps[len(gaps) // 2] if gaps else 60.0
