"""The contract between a stage's logic and the loop that feeds it from Kafka.

A stage is pure processing: it gets a batch of raw messages and returns what to publish and
what to dead-letter. It does not know whether it runs under the confluent-kafka runner,
the faust app or the in-memory pipeline used by ``aiops replay``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from streams.producer import Record


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed message, before decoding."""

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int = 0
    offset: int = -1


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be handled, and why."""

    message: Incoming
    reason: str


@dataclass(slots=True)
class StageResult:
    outputs: list[Record] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def dead_messages(self) -> list[Incoming]:
        return [d.message for d in self.dead]

    def extend(self, other: StageResult) -> None:
        self.outputs.extend(other.outputs)
        self.dead.extend(other.dead)


class Stage(Protocol):
    """What a runner needs from a stage."""

    name: str

    def topics(self) -> list[str]:
        """Input topics."""
        ...

    def start(self) -> list[Record]:
        """Recover after a (re)start; returns records that must be (re)published first."""
        ...

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        """Process a batch. Per-record decode errors become dead letters, not exceptions."""
        ...

    def published(self) -> None:
        """Everything the last :meth:`handle` or :meth:`idle` returned is on the broker."""
        ...

    def idle(self, wall_now: float) -> list[Record]:
        """Called when no input arrived for a while: timers such as auto-resolve."""
        ...


TopicPartitionKey = tuple[str, int]


@runtime_checkable
class Checkpointed(Protocol):
    """A stage whose state belongs to its input partitions and moves with them.

    The runner tells it which partitions it owns and when their offsets are committed; the
    stage saves its state with those offsets and, on assignment, restores it and names the
    offset each partition must resume from (the one its state was saved at).
    """

    def assigned(self, partitions: Sequence[TopicPartitionKey]
                 ) -> Mapping[TopicPartitionKey, int]:
        """Restore the partitions' state; returns the offsets to resume from."""
        ...

    def revoked(self, partitions: Sequence[TopicPartitionKey]) -> None:
        """Save and drop the partitions' state (everything handled was committed)."""
        ...

    def committed(self, offsets: Mapping[TopicPartitionKey, int], *, final: bool = False
                  ) -> None:
        """Offsets are committed; save state when due (``final``: the worker stops)."""
        ...


class StageMetrics(Protocol):
    """Where a runner reports what it does (implemented with prometheus-client in aiops)."""

    def consumed(self, stage: str, topic: str, count: int) -> None: ...

    def produced(self, stage: str, topic: str, count: int) -> None: ...

    def dead_lettered(self, stage: str, topic: str, count: int) -> None: ...

    def batch_latency(self, stage: str, seconds: float) -> None: ...

    def lag(self, stage: str, topic: str, partition: int, lag: int) -> None: ...


class NullMetrics:
    """Metrics sink that records nothing (replay, tests)."""

    def consumed(self, stage: str, topic: str, count: int) -> None:
        pass

    def produced(self, stage: str, topic: str, count: int) -> None:
        pass

    def dead_lettered(self, stage: str, topic: str, count: int) -> None:
        pass

    def batch_latency(self, stage: str, seconds: float) -> None:
        pass

    def lag(self, stage: str, topic: str, partition: int, lag: int) -> None:
        pass
