"""confluent-kafka client configuration and topic administration."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from aiops.model import BrokerUnavailableError
from streams.topics import TopicSpec

ClientConf: TypeAlias = dict[str, str | int | float | bool]


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """What every client needs to reach the cluster.

    ``extra`` passes librdkafka properties through unchanged (``security.protocol``,
    ``sasl.*``, ``ssl.*``), so any authentication Kafka supports works without code here.
    """

    bootstrap_servers: str
    client_id: str = "aiops"
    session_timeout_ms: int = 6000
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_message_bytes(self) -> int:
        """The largest record the producer sends (``message.max.bytes`` in ``extra``, else
        librdkafka's default, 1,000,000, which is also the broker's usual limit): every stage
        keeps what it produces under it."""
        return int(self.extra.get("message.max.bytes", 1_000_000))

    def common(self) -> ClientConf:
        conf: ClientConf = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
        }
        conf.update(self.extra)
        return conf

    def producer(self, **overrides: str | int | float | bool) -> ClientConf:
        conf = self.common()
        conf.update(
            {
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "message.timeout.ms": 30000,
                "enable.idempotence": False,
            }
        )
        conf.update(overrides)
        return conf

    def consumer(self, group_id: str, *, auto_offset_reset: str = "earliest") -> ClientConf:
        conf = self.common()
        conf.update(
            {
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": auto_offset_reset,
                "session.timeout.ms": self.session_timeout_ms,
                # Also the rebalance timeout: how long a rebalance may wait for a member
                # that does not rejoin (a killed one the broker still counts). librdkafka's
                # 300 s default left partitions unowned for minutes; a batch takes seconds.
                "max.poll.interval.ms": max(60_000, self.session_timeout_ms),
                "heartbeat.interval.ms": max(500, self.session_timeout_ms // 3),
                "fetch.wait.max.ms": 100,
            }
        )
        return conf


def ensure_topics(config: KafkaConfig, specs: Iterable[TopicSpec], timeout: float = 15.0) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AdminClient(config.common())
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            break
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(str(exc)) from exc
            time.sleep(0.2)
    missing = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1)
               for s in specs if s.name not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise BrokerUnavailableError(f"cannot create topic {name}: {exc}") from exc


def read_topic_values(config: KafkaConfig, topic: str, timeout: float = 10.0) -> list[bytes]:
    """Every message now in ``topic`` (all partitions, oldest first), without a group.

    Used to rebuild state kept only on a topic (runtime topology updates) at start.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({**config.consumer(f"{config.client_id}.reader"),
                         "enable.partition.eof": True})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        if not partitions:
            return []
        ends: dict[int, int] = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                        timeout=timeout)
            if high > 0:
                ends[p] = high
        if not ends:
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        values: list[bytes] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                part = msg.partition() or 0
                if msg.error() is None:
                    values.append(msg.value() or b"")
                    if (msg.offset() or 0) + 1 >= ends[part]:
                        done.add(part)
                elif part in ends and (msg.offset() or 0) >= ends[part]:
                    done.add(part)
        if len(done) < len(ends):
            raise BrokerUnavailableError(f"could not read {topic} to its end in {timeout}s")
        return values
    finally:
        consumer.close()
