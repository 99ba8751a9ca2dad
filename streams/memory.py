"""An in-process transport: stages wired topic to topic without a broker.

``aiops replay`` uses it to push recorded data through the whole pipeline as fast as the
stages go, deterministically; tests use it to exercise stages without Kafka. Records still
go through the wire shapes, so what is tested is what would cross a topic.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence

from streams.dlq import dead_letter_record
from streams.isolation import handle_isolating
from streams.producer import Record
from streams.stage import Incoming, Stage


class InMemoryPipeline:
    """Routes each stage's outputs to the stages subscribed to that topic."""

    def __init__(self, stages: Sequence[Stage], *, dlq_topic: str = "aiops.dlq") -> None:
        self._stages = list(stages)
        self._dlq_topic = dlq_topic
        self._routes: dict[str, list[Stage]] = defaultdict(list)
        for stage in self._stages:
            for topic in stage.topics():
                self._routes[topic].append(stage)
        self.topics: dict[str, list[Record]] = defaultdict(list)
        self._offsets: dict[str, int] = defaultdict(int)

    def start(self) -> None:
        for stage in self._stages:
            self._route(stage.start())
            stage.published()

    def send(self, records: Iterable[Record]) -> None:
        """Publish records and run every stage until nothing is left to process."""
        self._route(list(records))

    def idle(self, wall_now: float) -> None:
        for stage in self._stages:
            self._route(stage.idle(wall_now))
            stage.published()

    def _route(self, records: list[Record]) -> None:
        queue: deque[tuple[Stage, list[Incoming]]] = deque()
        self._enqueue(records, queue)
        while queue:
            stage, batch = queue.popleft()
            result = handle_isolating(stage, batch)
            out = list(result.outputs)
            out.extend(dead_letter_record(self._dlq_topic, stage.name, d) for d in result.dead)
            self._enqueue(out, queue)
            stage.published()

    def _enqueue(
        self, records: list[Record], queue: deque[tuple[Stage, list[Incoming]]]
    ) -> None:
        by_stage: dict[int, list[Incoming]] = defaultdict(list)
        for record in records:
            offset = self._offsets[record.topic]
            self._offsets[record.topic] = offset + 1
            self.topics[record.topic].append(record)
            incoming = Incoming(record.topic, record.value, record.key, 0, offset)
            for stage in self._routes.get(record.topic, []):
                by_stage[id(stage)].append(incoming)
        for stage in self._stages:
            batch = by_stage.get(id(stage))
            if batch:
                queue.append((stage, batch))
