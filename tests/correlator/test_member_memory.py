"""What an incident costs the correlator per member alert: bounded, however long it grows.

A 10,000-alert incident (every alert firing, as in the soak) is grown by batches of 30, each
version's delta taken as the correlate stage takes it for the store. The memory kept per
member alert is measured with ``tracemalloc``: the member's alert (its label and annotation
strings shared with the other members where equal), its indexes, and no timeline entry (the
timeline in memory keeps the incident's own entries and the newest ones about members).
Before, each member also kept its timeline entry and class-list slot and its own copies of
repeated label values: about 1,300 bytes per alert on this input.
"""

from __future__ import annotations

import gc
import tracemalloc

from aiops.model import Alert
from correlator.engine import TopologyCorrelator
from correlator.state import TIMELINE_KEPT

BOUND = 1_150  # bytes kept per member alert


def _batch(start: int, n: int) -> list[Alert]:
    # fresh strings per alert, as decoding a webhook makes them
    return [Alert({"alertname": f"Grow{i}", "service": "".join(["chaos", "-soak"]),
                   "severity": "".join(["warn", "ing"])},
                  {"summary": f"Grow{i} on chaos-soak"}, starts_at=1_000.0 + i * 0.0005)
            for i in range(start, start + n)]


def test_memory_per_member_alert_is_bounded_and_the_timeline_is_not_kept() -> None:
    c = TopologyCorrelator()
    c.track_deltas()
    total = 10_000
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        written = 0
        for start in range(0, total, 30):
            for incident in c.process_batch(_batch(start, min(30, total - start))):
                delta = c.take_delta(incident)
                assert delta is not None
                written += len(delta.alerts)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    (incident,) = c.open_incidents()
    assert len(incident.alerts) == total and written == total  # nothing lost
    assert kept / total < BOUND, f"{kept / total:.0f} bytes kept per member alert"
    assert len(incident.timeline) <= 2 * TIMELINE_KEPT + 2
    assert {"pending", "opened"} <= {e.event for e in incident.timeline}  # its own entries stay


def test_without_a_store_taking_deltas_the_whole_timeline_stays() -> None:
    c = TopologyCorrelator()
    for start in range(0, 600, 30):
        c.process_batch(_batch(start, 30))
    (incident,) = c.open_incidents()
    assert len(incident.timeline) == 601
