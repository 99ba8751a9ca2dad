"""``aiops replay``: recorded metrics, logs and alerts through the whole pipeline, in event time.

The stages run in-process, wired topic to topic by :class:`streams.memory.InMemoryPipeline`,
so a replay goes as fast as the stages can and gives the same incidents every time.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
import typer

from aiops.model import DecodeError, Incident
from aiops.settings import Settings
from streams.codecs import decode_incident
from streams.memory import InMemoryPipeline
from streams.producer import Record
from streams.timefmt import parse_time


def _event_time(obj: object) -> float:
    if isinstance(obj, dict):
        for key in ("ts", "timestamp", "startsAt"):
            if key in obj:
                ts = parse_time(obj[key], field=key)
                if ts is not None:
                    if key == "startsAt" and obj.get("status") == "resolved":
                        return parse_time(obj.get("endsAt"), field="endsAt") or ts
                    return ts
        samples = obj.get("samples") or obj.get("records")
        if isinstance(samples, list) and samples:
            return min(_event_time(s) for s in samples)
    raise DecodeError("record has no event time (ts, timestamp or startsAt)")


def _read(path: Path, topic: str) -> Iterator[tuple[float, int, Record]]:
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                ts = _event_time(orjson.loads(line))
            except (orjson.JSONDecodeError, DecodeError) as exc:
                raise DecodeError(f"{path}:{lineno}: {exc}") from exc
            yield ts, lineno, Record(topic, None, line.rstrip(b"\n"))


def replay_files(
    settings: Settings,
    *,
    metrics: Path | None = None,
    logs: Path | None = None,
    alerts: Path | None = None,
    chunk: int = 2000,
) -> tuple[list[Incident], dict[str, int]]:
    """Replay the files merged in event-time order; return the incidents' final versions."""
    from aiops.app import Engine

    engine = Engine.build(settings, bootstrap_servers="")
    topics = engine.topics
    pipeline = InMemoryPipeline([engine.stage(n) for n in ("detect", "correlate", "act")],
                                dlq_topic=topics.dlq)
    pipeline.start()
    sources = [
        _read(p, t)
        for p, t in ((metrics, topics.metrics), (logs, topics.logs), (alerts, topics.alerts))
        if p is not None
    ]
    pending: list[Record] = []
    for _ts, _line, record in heapq.merge(*sources, key=lambda item: (item[0], item[1])):
        pending.append(record)
        if len(pending) >= chunk:
            pipeline.send(pending)
            pending = []
    pipeline.send(pending)
    latest: dict[str, Incident] = {}
    for record in pipeline.topics[topics.incidents]:
        incident = decode_incident(record.value)
        if incident.id not in latest or latest[incident.id].version < incident.version:
            latest[incident.id] = incident
    counts = {topic: len(records) for topic, records in pipeline.topics.items()}
    return sorted(latest.values(), key=lambda i: (i.opened_at, i.id)), counts


def replay(
    out: Annotated[Path, typer.Option("--out", "-o", help="Incidents as JSON lines.")],
    metrics: Annotated[Path | None, typer.Option(help="Metric samples, JSON lines.")] = None,
    logs: Annotated[Path | None, typer.Option(help="Log records, JSON lines.")] = None,
    alerts: Annotated[Path | None, typer.Option(help="Alertmanager alerts, JSON lines.")] = None,
    topology: Annotated[Path | None, typer.Option(help="Topology file (YAML/JSON).")] = None,
    store: Annotated[str | None, typer.Option(help="Store URL (default: a temp SQLite).")] = None,
) -> None:
    """Push recorded data through the whole pipeline as fast as possible, in event time."""
    from streams.codecs import encode_incident

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(None)
        settings.store.url = store or f"sqlite:///{tmp}/replay.db"
        if topology is not None:
            settings.correlation.topology_file = str(topology)
        incidents, counts = replay_files(settings, metrics=metrics, logs=logs, alerts=alerts)
    with out.open("wb") as handle:
        for incident in incidents:
            handle.write(encode_incident(incident) + b"\n")
    summary = ", ".join(f"{topic}={n}" for topic, n in sorted(counts.items()))
    typer.echo(f"{len(incidents)} incident(s) written to {out} ({summary})")
