"""A worker killed at any point of the stream, even between two incident writes of one
batch, and restarted on what the store holds ends where an uninterrupted run ends: the real
correlate stage and a real SQLite store, no broker (each cut is cheap, so every cut is tried).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from aiops.app import Engine
from aiops.model import Alert, AlertStatus
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.wire.shapes import encode_alert
from streams.stage import Incoming

T0 = 1_790_000_000.0

State = dict[str, tuple[frozenset[str], str]]


def _alerts(bursts: int = 6) -> list[Alert]:
    """Bursts two hours apart of 4 alerts, firing then resolved, one service each; the
    same alerts recur every 3 bursts and must open a new incident each time."""
    out: list[Alert] = []
    for burst in range(bursts):
        base = T0 + burst * 7200
        for i in range(4):
            labels = {"alertname": f"Alert{i}", "service": f"svc{burst % 3}",
                      "severity": "warning"}
            out.append(Alert(labels, {"score": "0.9"}, base + 10 * i))
            out.append(Alert(labels, {}, base + 10 * i, base + 120 + i,
                             status=AlertStatus.RESOLVED))
    return out


def _stage(db: Path) -> tuple[CorrelateStage, Store]:
    """A correlate stage as a (re)started worker has it: started, then assigned the alerts."""
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{db}"
    settings.correlation.quiet_period_s = 600
    engine = Engine.build(settings, bootstrap_servers="")
    stage = engine.stage("correlate")
    assert isinstance(stage, CorrelateStage)
    stage.start()
    stage.published()
    stage.on_assign([(engine.topics.alerts, 0)])
    return stage, engine.store


def _feed(stage: CorrelateStage, batches: list[list[Alert]]) -> None:
    for batch in batches:
        stage.handle([Incoming(stage.topics()[0], encode_alert(a)) for a in batch])
        stage.published()
    stage.idle(time.time())  # the stream is drained: the worker's timers run (a moment on)
    stage.published()


def _state(store: Store) -> State:
    return {i.id: (frozenset(i.fingerprints), i.status.value)
            for i in store.list_incidents(limit=1000)}


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite store (its write-ahead log included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _new_db(path: Path) -> Path:
    upgrade(f"sqlite:///{path}")
    return path


# A backlog after a restart comes in big batches, of several bursts; where they end decides
# which incidents one batch writes, so two sizes are tried.
@pytest.mark.parametrize("size", [12, 20])
def test_a_restart_between_any_two_writes_ends_as_an_uninterrupted_run(
    tmp_path: Path, size: int
) -> None:
    alerts = _alerts()
    batches = [alerts[i:i + size] for i in range(0, len(alerts), size)]
    whole = _new_db(tmp_path / "whole.db")
    stage, store = _stage(whole)
    cuts: list[tuple[int, Path]] = []
    for k, batch in enumerate(batches):
        # The store as batch k found it, plus some of the incident writes batch k made
        # (each is its own transaction): where a SIGKILL can leave it.
        snapshot = tmp_path / f"before{k}.db"
        _copy(whole, snapshot)
        held = {i.id: i.version for i in store.list_incidents(limit=1000)}
        _feed(stage, [batch])
        written = [i for i in store.list_incidents(limit=1000) if held.get(i.id) != i.version]
        for n in range(len(written) + 1):
            for subset in itertools.combinations(written, n):
                db = tmp_path / f"cut{len(cuts)}.db"
                _copy(snapshot, db)
                partial = Store(create_engine(f"sqlite:///{db}"))
                for incident in subset:
                    partial.save_incident(incident)
                cuts.append((k, db))
    expected = _state(store)
    assert len(expected) == 6
    assert len(cuts) > 2 * len(batches)
    for k, db in cuts:
        # Restarted: what the store holds is reloaded and batch k is delivered again, or
        # the whole stream if no offset had been committed yet.
        for resume in sorted({k, 0}):
            copy = tmp_path / f"resume{resume}-{db.name}"
            _copy(db, copy)
            restarted, restarted_store = _stage(copy)
            _feed(restarted, batches[resume:])
            assert _state(restarted_store) == expected, \
                f"restarted before batch {k} ({db.name}), delivered again from {resume}"
