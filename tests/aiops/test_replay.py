"""``aiops replay``: recorded metrics and logs through the whole pipeline, in event time."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aiops.cli import build_cli
from aiops.sim import generate
from streams.codecs import decode_incident, dumps, log_to_dict, metric_to_dict


def _write(tmp_path: Path, seed: int) -> tuple[list[str], str]:
    scenario = generate(n_services=10, fault="cpu", seed=seed)
    metrics = tmp_path / "metrics.jsonl"
    logs = tmp_path / "logs.jsonl"
    topology = tmp_path / "topology.json"
    # Files need not be sorted: replay merges them in event time.
    metrics.write_bytes(b"".join(dumps(metric_to_dict(s)) + b"\n" for s in scenario.metrics))
    logs.write_bytes(b"".join(dumps(log_to_dict(r)) + b"\n" for r in reversed(scenario.logs)))
    topology.write_bytes(dumps(scenario.topology))
    args = ["--metrics", str(metrics), "--logs", str(logs), "--topology", str(topology)]
    return args, scenario.truth.root


def test_replay_writes_incidents_deterministically(tmp_path: Path) -> None:
    args, root = _write(tmp_path, seed=7)
    runner = CliRunner()
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        result = runner.invoke(build_cli(), ["replay", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]  # same input, same incidents, same ids
    incidents = [decode_incident(line) for line in outputs[0].splitlines()]
    assert incidents
    biggest = max(incidents, key=lambda i: len(i.alerts))
    assert root in biggest.services
    assert biggest.root_causes and biggest.root_causes[0].service == root


def test_replay_reports_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.jsonl"
    bad.write_bytes(b'{"name": "x", "labels": {}, "ts": 1, "value": 1}\n{"no time": true}\n')
    result = CliRunner().invoke(build_cli(), ["replay", "--metrics", str(bad), "--out",
                                              str(tmp_path / "o.jsonl")])
    assert result.exit_code != 0
    assert "metrics.jsonl:2" in str(result.exception) + result.output

