"""One bad record never takes a batch down: the batch is retried record by record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from streams.stage import DeadLetter, Incoming, Stage, StageResult

log = logging.getLogger(__name__)


def handle_isolating(stage: Stage, batch: Sequence[Incoming]) -> StageResult:
    """Run the stage on a batch; if it raises, retry record by record and dead-letter the
    records that still fail.

    Before each retry the stage's ``rollback`` (if it has one) puts its state back to where
    it was before the failed call, so the records of a failed batch are not applied twice.
    """
    try:
        return stage.handle(batch)
    except Exception:
        log.exception("stage %s failed on a batch of %d; isolating", stage.name, len(batch))
    rollback: Callable[[], None] | None = getattr(stage, "rollback", None)
    if rollback is not None:
        rollback()
    result = StageResult()
    for message in batch:
        try:
            result.extend(stage.handle([message]))
        except Exception as exc:
            log.exception("stage %s: record %s/%d@%d failed", stage.name, message.topic,
                          message.partition, message.offset)
            if rollback is not None:
                rollback()
            result.dead.append(DeadLetter(message, f"processing failed: {exc!r}"))
    return result


def count_by_topic(items: Sequence[Incoming] | Sequence[object]) -> dict[str, int]:
    """How many of ``items`` (records or messages) each topic has, for the stage metrics."""
    counts: dict[str, int] = {}
    for item in items:
        topic = str(getattr(item, "topic", ""))
        counts[topic] = counts.get(topic, 0) + 1
    return counts
