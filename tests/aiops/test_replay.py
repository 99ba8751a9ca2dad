"""``aiops replay``: recorded metrics and logs through the whole pipeline, in event time."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson
from click.testing import Result
from typer.testing import CliRunner

from aiops.cli import build_cli
from aiops.model import Alert, AlertStatus
from aiops.sim import generate
from aiops.wire.shapes import decode_incident, dumps, encode_alert, log_to_dict, metric_to_dict


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


def _run(args: list[str]) -> Result:
    result = CliRunner().invoke(build_cli(), ["replay", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_undecodable_lines_go_to_the_dead_letters_and_the_replay_goes_on(tmp_path: Path
                                                                       ) -> None:
    args, root = _write(tmp_path, seed=7)
    metrics = tmp_path / "metrics.jsonl"
    lines = metrics.read_bytes().splitlines(keepends=True)
    bad = [b'{"name": "cpu", "labels": {"service": "x"}, "ts": 1790000000, "value": NaN}\n',
           b'{"name": "cpu", "labels": {"serv\n',
           b'{"no time": true}\n',
           b'{"name": "cpu", "labels": {}, "ts": 1e999, "value": 1}\n']
    mixed = lines[:10] + bad[:2] + lines[10:20] + bad[2:] + lines[20:]
    metrics.write_bytes(b"".join(mixed))
    out = tmp_path / "out.jsonl"
    result = _run([*args, "--out", str(out)])
    dead = [orjson.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_bytes().splitlines()]
    from_file = [d for d in dead if d.get("source") == str(metrics)]
    assert [d["line"] for d in from_file] == [11, 12, 23, 24]
    assert "NaN" in from_file[0]["value"] and from_file[0]["reason"]
    assert "4 undecodable" in result.output and "dead letter(s) in" in result.output
    incidents = [decode_incident(line) for line in out.read_bytes().splitlines()]
    biggest = max(incidents, key=lambda i: len(i.alerts))
    assert biggest.root_causes[0].service == root  # the rest of the recording still counted


def test_out_of_order_files_are_replayed_in_event_time_and_reported(tmp_path: Path) -> None:
    args, _root = _write(tmp_path, seed=11)
    out_sorted = tmp_path / "sorted.jsonl"
    _run([*args, "--out", str(out_sorted)])
    metrics = tmp_path / "metrics.jsonl"
    lines = metrics.read_bytes().splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    metrics.write_bytes(b"".join(lines))
    out_shuffled = tmp_path / "shuffled.jsonl"
    result = _run([*args, "--out", str(out_shuffled)])
    # Nothing dropped as late: the same incidents, alerts and causes (samples with equal
    # times keep their file order, so only the order of equal-time members may differ).
    def summary(path: Path) -> dict[str, tuple[object, ...]]:
        found = [decode_incident(line) for line in path.read_bytes().splitlines()]
        return {i.id: (i.status, i.version, frozenset(i.fingerprints),
                       i.root_causes[0].service) for i in found}

    assert summary(out_shuffled) == summary(out_sorted)
    found = re.search(r"metrics.jsonl: (\d+) record\(s\), (\d+) out of event-time order",
                      result.output)
    assert found and int(found.group(1)) == len(lines) and int(found.group(2)) > 0


def test_all_versions_and_progress(tmp_path: Path) -> None:
    args, _root = _write(tmp_path, seed=7)
    last, every = tmp_path / "last.jsonl", tmp_path / "every.jsonl"
    _run([*args, "--out", str(last), "--chunk", "50"])
    result = _run([*args, "--out", str(every), "--all-versions", "--progress-every", "0.0001",
                   "--chunk", "50"])
    latest = [decode_incident(line) for line in last.read_bytes().splitlines()]
    versions = [decode_incident(line) for line in every.read_bytes().splitlines()]
    keys = [(i.id, i.version) for i in versions]
    assert len(set(keys)) == len(keys) > len(latest)
    assert {(i.id, i.version) for i in latest} <= set(keys)
    for ident in {i.id for i in versions}:
        mine = [i.version for i in versions if i.id == ident]
        assert mine == sorted(mine)  # in publish order
    assert re.search(r"replay: \d+/\d+ records \(\d+%\)", result.output)


def test_alerts_flag(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"".join(
        encode_alert(Alert({"alertname": "ServiceDown", "service": s, "severity": "critical"},
                           {}, 1_790_000_000.0 + i)) + b"\n" for i, s in enumerate(["a", "b"])))
    out = tmp_path / "o.jsonl"
    _run(["--alerts", str(alerts), "--out", str(out), "--progress-every", "0"])
    incidents = [decode_incident(line) for line in out.read_bytes().splitlines()]
    assert {s for i in incidents for s in i.services} == {"a", "b"}


def test_file_order_is_kept_when_asked_and_still_reported(tmp_path: Path) -> None:
    # A firing alert's resolve recorded right after it, before the next alert fires: in
    # event time the four alerts fire together and resolve together; fed as recorded, each
    # resolves before the next fires.
    rows = []
    for i in range(4):
        labels = {"alertname": f"A{i}", "service": "cart", "severity": "warning"}
        rows.append(Alert(labels, {}, 1_790_000_000.0 + 10 * i))
        rows.append(Alert(labels, {}, 1_790_000_000.0 + 10 * i, 1_790_000_120.0 + i,
                          status=AlertStatus.RESOLVED))
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"".join(encode_alert(a) + b"\n" for a in rows))
    by_order = {}
    for order in ("event", "file"):
        out = tmp_path / f"{order}.jsonl"
        result = _run(["--alerts", str(alerts), "--out", str(out), "--order", order,
                       "--all-versions"])
        assert "3 out of event-time order" in result.output
        assert ("replayed in file order" in result.output) == (order == "file")
        by_order[order] = out.read_bytes()
    assert by_order["event"] != by_order["file"]
