"""Error logs as deviation evidence: what deviates, what does not, and what stays bounded."""

from __future__ import annotations

import pickle
import random

from aiops.model import LogRecord
from detectors.log_deviation import LogDeviationTracker, template_of

T0 = 1_790_000_040.0  # on a minute boundary


def _minute(minute: int, service: str, errors: list[str], infos: int = 3) -> list[LogRecord]:
    ts = T0 + 60 * minute
    out = [LogRecord(ts + 1 + i, service, "error", m) for i, m in enumerate(errors)]
    out += [LogRecord(ts + 30 + i, service, "info", "served") for i in range(infos)]
    return out


def test_a_steady_error_rate_and_known_templates_never_deviate() -> None:
    rnd = random.Random(3)
    t = LogDeviationTracker()
    found = []
    for minute in range(240):
        errors = [f"upstream timeout after {rnd.randint(100, 900)} ms"
                  for _ in range(rnd.randint(0, 4))]
        found += t.process(_minute(minute, "cart", errors))
    assert found == []


def test_a_burst_deviates_from_when_it_began_until_it_stops() -> None:
    t = LogDeviationTracker()
    for minute in range(30):
        assert t.process(_minute(minute, "cart", ["retry 1 of 3"])) == []
    runs = [t.process(_minute(minute, "cart", ["retry 1 of 3"] * 25)) for minute in (30, 31, 32)]
    assert runs[0] == []  # the bucket is judged when event time passes its end
    since = {d.since for run in runs[1:] for d in run}
    assert since == {T0 + 30 * 60}  # the run keeps the time it moved
    assert t.process(_minute(33, "cart", [])) != []  # minute 32 still deviated
    assert t.process(_minute(34, "cart", ["retry 1 of 3"])) == []  # minute 33 was quiet


def test_a_new_kind_of_error_is_evidence_even_at_the_usual_rate() -> None:
    t = LogDeviationTracker()
    for minute in range(30):
        t.process(_minute(minute, "cart", ["retry 1 of 3"] * 5))
    t.process(_minute(30, "cart", ["OutOfMemoryError: Java heap space"] * 5))
    found = t.process(_minute(31, "cart", []))
    assert [(d.family, d.value) for d in found] == [("log_new_error", 5.0)]
    assert "OutOfMemoryError" in found[0].series


def test_a_quiet_service_is_judged_on_the_others_time_and_state_is_bounded() -> None:
    t = LogDeviationTracker(max_templates=50, history=10)
    for minute in range(20):
        t.process(_minute(minute, "cart", [f"error kind {chr(65 + minute)}{minute}"]))
        t.process(_minute(minute, "web", []))
    t.process(_minute(20, "cart", ["disk full on /var/lib/x"] * 10))
    found = t.process(_minute(21, "web", []))  # cart logs nothing more; web's time moves on
    assert {d.node for d in found} == {"cart"}
    for minute in range(22, 400):
        t.process(_minute(minute, "cart", [f"failure {template_of(str(minute))}x{minute}y"]))
    state = pickle.loads(pickle.dumps(t))  # the detect stage checkpoints it with the offsets
    svc = state._services["cart"]
    assert len(svc.known) <= 50 and len(svc.counts) <= 10
