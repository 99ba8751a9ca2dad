"""``aiops replay``: recorded metrics, logs and alerts through the whole pipeline, in event time.

The stages run in-process, wired topic to topic by :class:`streams.memory.InMemoryPipeline`,
so a replay goes as fast as the stages can and gives the same incidents every time.

Fit for real recordings (:mod:`aiops.replay_sources`): files need not be sorted (each is
replayed in event-time order, and how many of its lines were out of order is reported);
a line that cannot be decoded goes to the dead-letter file with its path and line number and
the replay goes on; records the stages refuse go there too, with the stage's reason;
progress goes to stderr on long inputs; ``--all-versions`` writes every incident version, in
the order they were published, instead of each incident's last.
"""

from __future__ import annotations

import heapq
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import orjson
import typer

from aiops.model import Incident
from aiops.replay_sources import BadLine, SourceFile, SourceReport, Ticker
from aiops.settings import Settings
from aiops.wire.shapes import decode_incident
from streams.memory import InMemoryPipeline
from streams.producer import Record


@dataclass
class ReplayResult:
    """Every incident version in publish order, the counts per topic, the dead letters (bad
    lines and the stages' refusals) and what the scan of each file found."""

    versions: list[Incident]
    counts: dict[str, int]
    bad_lines: list[BadLine] = field(default_factory=list)
    stage_dead_letters: list[bytes] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)

    def latest(self) -> list[Incident]:
        """Each incident's last version, by opening time then id."""
        last: dict[str, Incident] = {}
        for incident in self.versions:
            if incident.id not in last or last[incident.id].version < incident.version:
                last[incident.id] = incident
        return sorted(last.values(), key=lambda i: (i.opened_at, i.id))


def run_replay(
    settings: Settings,
    *,
    metrics: Path | None = None,
    logs: Path | None = None,
    alerts: Path | None = None,
    chunk: int = 2000,
    progress: Callable[[str], None] | None = None,
    progress_every: float = 0.0,
    order: str = "event",
) -> ReplayResult:
    """Replay the files merged in event-time order through detect, correlate and act.

    ``order="file"`` keeps each file's own order (merged across files by time where each is
    sorted), as a live consumer fed the file line by line would see it.
    """
    if order not in ("event", "file"):
        raise ValueError(f"order must be 'event' or 'file', not {order!r}")
    from aiops.app import Engine

    tick = Ticker(progress or (lambda _m: None), progress_every)
    engine = Engine.build(settings, bootstrap_servers="")
    topics = engine.topics
    pipeline = InMemoryPipeline([engine.stage(n) for n in ("detect", "correlate", "act")],
                                dlq_topic=topics.dlq)
    pipeline.start()
    bad: list[BadLine] = []
    files = [SourceFile(p, t) for p, t in ((metrics, topics.metrics), (logs, topics.logs),
                                           (alerts, topics.alerts)) if p is not None]
    reports = [f.scan(bad.append, tick) for f in files]
    total = sum(r.records for r in reports)
    counts: dict[str, int] = {}
    inputs = {topics.metrics, topics.logs, topics.alerts}

    def send(batch: list[Record]) -> None:
        pipeline.send(batch)
        for topic in inputs:  # input records are not kept: a recorded day stays in memory
            held = pipeline.topics.get(topic)
            if held:
                counts[topic] = counts.get(topic, 0) + len(held)
                held.clear()

    sent, started = 0, time.monotonic()
    pending: list[Record] = []
    sort = order == "event"
    merged = heapq.merge(*(f.records(sort=sort) for f in files),
                         key=lambda item: (item[0], item[1]))
    for _ts, _line, record in merged:
        pending.append(record)
        if len(pending) >= chunk:
            send(pending)
            sent += len(pending)
            pending = []
            rate = sent / max(time.monotonic() - started, 1e-9)
            tick(f"{sent}/{total} records ({100 * sent / max(total, 1):.0f}%), {rate:.0f}/s, "
                 f"{len(pipeline.topics[topics.incidents])} incident version(s)")
    send(pending)
    for topic, records in pipeline.topics.items():
        if topic not in inputs:
            counts[topic] = counts.get(topic, 0) + len(records)
    versions = [decode_incident(r.value) for r in pipeline.topics[topics.incidents]]
    dead = [r.value for r in pipeline.topics[topics.dlq]]
    counts[topics.dlq] = len(dead) + len(bad)
    return ReplayResult(versions, counts, bad, dead, reports)


def replay_files(
    settings: Settings,
    *,
    metrics: Path | None = None,
    logs: Path | None = None,
    alerts: Path | None = None,
    chunk: int = 2000,
    order: str = "event",
) -> tuple[list[Incident], dict[str, int]]:
    """Replay the files merged in event-time order; return the incidents' final versions."""
    result = run_replay(settings, metrics=metrics, logs=logs, alerts=alerts, chunk=chunk,
                        order=order)
    return result.latest(), result.counts


def _stderr(message: str) -> None:
    print(f"replay: {message}", file=sys.stderr, flush=True)


def replay(
    out: Annotated[Path, typer.Option("--out", "-o", help="Incidents as JSON lines.")],
    metrics: Annotated[Path | None, typer.Option(help="Metric samples, JSON lines.")] = None,
    logs: Annotated[Path | None, typer.Option(help="Log records, JSON lines.")] = None,
    alerts: Annotated[Path | None, typer.Option(help="Alertmanager alerts, JSON lines.")] = None,
    topology: Annotated[Path | None, typer.Option(help="Topology file (YAML/JSON).")] = None,
    store: Annotated[str | None, typer.Option(help="Store URL (default: a temp SQLite).")] = None,
    all_versions: Annotated[bool, typer.Option(
        "--all-versions", help="Write every incident version (publish order), not only the "
        "last of each incident.")] = False,
    dead_letters: Annotated[Path | None, typer.Option(
        help="Where undecodable lines and refused records go (JSON lines); default: next to "
        "--out as <name>.dlq.jsonl, written only when there are any.")] = None,
    progress_every: Annotated[float, typer.Option(
        help="Seconds between progress lines on stderr; 0: none.")] = 5.0,
    chunk: Annotated[int, typer.Option(
        min=1, help="Records handed to the stages at once (a consumer batch).")] = 2000,
    order: Annotated[str, typer.Option(
        help="'event': each file in event-time order; 'file': as recorded (what a live "
        "consumer fed line by line sees); out-of-order lines are reported either way.")
    ] = "event",
) -> None:
    """Push recorded data through the whole pipeline as fast as possible, in event time."""
    from aiops.wire.shapes import encode_incident

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(None)
        settings.store.url = store or f"sqlite:///{tmp}/replay.db"
        if topology is not None:
            settings.correlation.topology_file = str(topology)
        if order not in ("event", "file"):
            raise typer.BadParameter("--order must be 'event' or 'file'")
        result = run_replay(settings, metrics=metrics, logs=logs, alerts=alerts, chunk=chunk,
                            progress=_stderr, progress_every=progress_every, order=order)
    incidents = result.versions if all_versions else result.latest()
    with out.open("wb") as handle:
        for incident in incidents:
            handle.write(encode_incident(incident) + b"\n")
    for report in result.sources:
        if report.bad or report.out_of_order or progress_every > 0:
            _stderr(report.describe(sorted_=order == "event"))
    dead_count = len(result.bad_lines) + len(result.stage_dead_letters)
    dlq_note = ""
    if dead_count:
        target = dead_letters or out.with_name(f"{out.stem}.dlq.jsonl")
        with target.open("wb") as handle:
            for bad in result.bad_lines:
                handle.write(orjson.dumps(bad.to_dict()) + b"\n")
            for value in result.stage_dead_letters:
                handle.write(value + b"\n")
        dlq_note = f"; {dead_count} dead letter(s) in {target}"
    summary = ", ".join(f"{topic}={n}" for topic, n in sorted(result.counts.items()))
    what = "incident version(s)" if all_versions else "incident(s)"
    typer.echo(f"{len(incidents)} {what} written to {out} ({summary}){dlq_note}")
