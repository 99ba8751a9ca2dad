"""Unstick a consumer group whose rebalance waits for a leader that has left.

The local broker (Tansu) forms a group in two steps: members join, then the member it named
leader sends the assignment (SyncGroup). If that leader *leaves* (a clean ``close()``, a
re-subscribe) while the group is forming, the broker removes the member but keeps its id as
the leader, and nothing ever clears it: every other member's SyncGroup is answered "rebalance
in progress" for ever, and re-subscribing or restarting the worker does not help (a new
member is never named leader). A leader that dies without leaving is timed out properly; one
that leaves cleanly is not. On Kafka itself a rebalance never waits for a departed member.

:func:`repair_group` plays the part of the departed leader, in plain Kafka protocol:

1. join with a throwaway member id, which tells it the leader the group waits for;
2. join *as* that leader, and complete the rebalance with an empty assignment;
3. leave as that leader, then as the throwaway member. With the leader gone from a formed
   group, the broker starts a fresh rebalance without a leader, and the next member to join
   (the stuck worker, which keeps rejoining) becomes leader and assigns the partitions.

Against a healthy group this costs one rebalance; a broker that does not know a member id
it did not issue (Kafka) answers ``UNKNOWN_MEMBER_ID`` and the repair stops there.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

_FIND_COORDINATOR, _JOIN_GROUP, _SYNC_GROUP, _LEAVE_GROUP = 10, 11, 14, 13
# librdkafka's default assignors, so the throwaway member speaks the group's protocol
_PROTOCOLS = ("range", "roundrobin", "cooperative-sticky")


class RepairError(Exception):
    """The broker refused a step of the repair (the group was not in the state it mends)."""


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    """What the repair found: the leader the group was waiting for, and the generation it
    completed on the leader's behalf."""

    leader: str
    generation: int


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def _bytes(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self._data, self._at)
        self._at += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self._data, self._at)
        self._at += 4
        return int(value)

    def skip_bytes(self) -> None:
        size = self.int32()
        self._at += max(0, size)

    def string(self) -> str:
        size = self.int16()
        if size < 0:
            return ""
        value = self._data[self._at:self._at + size].decode()
        self._at += size
        return value


class _Connection:
    """One plaintext connection speaking the classic (non-flexible) request versions."""

    def __init__(self, host: str, port: int, client_id: str, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._client_id = client_id
        self._correlation = 0

    def close(self) -> None:
        self._sock.close()

    def call(self, api_key: int, version: int, body: bytes) -> _Reader:
        self._correlation += 1
        header = struct.pack(">hhi", api_key, version, self._correlation) + _string(
            self._client_id)
        request = header + body
        self._sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", self._read(4))[0]
        reader = _Reader(self._read(size))
        if reader.int32() != self._correlation:
            raise RepairError("response out of order")
        return reader

    def _read(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._sock.recv(size - len(chunks))
            if not chunk:
                raise RepairError("connection closed by the broker")
            chunks.extend(chunk)
        return bytes(chunks)


def _metadata(topics: list[str]) -> bytes:
    """ConsumerProtocolSubscription v0: version, topics, user data."""
    return (struct.pack(">h", 0) + struct.pack(">i", len(topics))
            + b"".join(_string(t) for t in topics) + _bytes(b""))


def _assignment() -> bytes:
    """ConsumerProtocolAssignment v0 with no partitions."""
    return struct.pack(">h", 0) + struct.pack(">i", 0) + _bytes(b"")


@dataclass(frozen=True, slots=True)
class _Joined:
    error: int
    generation: int
    leader: str
    members: list[str]  # filled in for the leader only


def _join(conn: _Connection, group: str, member: str, topics: list[str],
          session_ms: int) -> _Joined:
    """JoinGroup v1 as ``member`` (a short rebalance timeout: the broker holds a follower's
    join until the group forms, which a stuck group never does)."""
    protocols = b"".join(_string(name) + _bytes(_metadata(topics)) for name in _PROTOCOLS)
    body = (_string(group) + struct.pack(">ii", session_ms, 1000) + _string(member)
            + _string("consumer") + struct.pack(">i", len(_PROTOCOLS)) + protocols)
    reply = conn.call(_JOIN_GROUP, 1, body)
    error, generation = reply.int16(), reply.int32()
    reply.string()  # protocol name
    leader = reply.string()
    reply.string()  # this member's id
    members = []
    for _ in range(max(0, reply.int32())):
        members.append(reply.string())
        reply.skip_bytes()
    return _Joined(error, generation, leader, members)


def _coordinator(bootstrap: str, group: str, client_id: str,
                 timeout: float) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    conn = _Connection(host, int(port), client_id, timeout)
    try:
        reply = conn.call(_FIND_COORDINATOR, 0, _string(group))
        error = reply.int16()
        if error:
            raise RepairError(f"FindCoordinator answered error {error}")
        reply.int32()  # node id
        return reply.string(), reply.int32()
    finally:
        conn.close()


def repair_group(bootstrap: str, group: str, topics: list[str], *,
                 session_timeout_ms: int = 6000, client_id: str = "aiops-repair",
                 timeout: float = 10.0) -> RepairOutcome:
    """Complete the rebalance ``group`` waits for on behalf of its departed leader (see the
    module docstring); raises :class:`RepairError` when a step is refused."""
    host, port = _coordinator(bootstrap, group, client_id, timeout)
    conn = _Connection(host, port, client_id, timeout)
    probe = f"{client_id}-{uuid.uuid4()}"
    left = False
    try:
        probed = _join(conn, group, probe, topics, session_timeout_ms)
        leader = probed.leader
        if probed.error or not leader or leader == probe:
            raise RepairError(f"probe join answered error {probed.error}, leader {leader!r}")
        joined = _join(conn, group, leader, topics, session_timeout_ms)
        if joined.error or joined.leader != leader:
            raise RepairError(f"join as {leader} answered error {joined.error}, "
                              f"leader {joined.leader!r}")
        generation = joined.generation
        # an (empty) assignment for every member: the broker forms the group only then
        members = joined.members or [leader]
        body = (_string(group) + struct.pack(">i", generation) + _string(leader)
                + struct.pack(">i", len(members))
                + b"".join(_string(m) + _bytes(_assignment()) for m in members))
        sync = conn.call(_SYNC_GROUP, 0, body)
        error = sync.int16()
        if error:
            raise RepairError(f"sync as {leader} answered error {error}")
        # the leader first: a formed group that loses its leader rebalances without one
        for member in (leader, probe):
            conn.call(_LEAVE_GROUP, 0, _string(group) + _string(member)).int16()
        left = True
        log.warning("group %s: completed the rebalance its departed leader %s left open",
                    group, leader)
        return RepairOutcome(leader, generation)
    finally:
        if not left:  # the probe is nobody's leader: leaving never strands the group
            with contextlib.suppress(OSError, RepairError, struct.error):
                conn.call(_LEAVE_GROUP, 0, _string(group) + _string(probe))
        conn.close()
