"""The project's exceptions: one root, small subclasses that carry what went wrong."""

from __future__ import annotations


class AiopsError(Exception):
    """Root of every error the engine raises on purpose."""


class DecodeError(AiopsError):
    """A record or request body could not be turned into a domain object.

    ``reason`` is the human-readable cause, suitable for a dead-letter record or a 4xx body.
    """

    def __init__(self, reason: str, *, kind: str = "record") -> None:
        super().__init__(f"cannot decode {kind}: {reason}")
        self.reason = reason
        self.kind = kind


class TooLargeError(DecodeError):
    """A body or record that is (or would decompress to) more than ``limit`` bytes."""

    def __init__(self, reason: str, *, limit: int, kind: str = "record") -> None:
        super().__init__(reason, kind=kind)
        self.limit = limit


class ConfigError(AiopsError):
    """A setting, runbook or topology file is invalid."""

    def __init__(self, reason: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {reason}" if source else reason)
        self.reason = reason
        self.source = source


class NotFoundError(AiopsError):
    """An entity looked up by id does not exist."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class ConflictError(AiopsError):
    """A state change is not allowed from the entity's current state."""

    def __init__(self, kind: str, ident: str, reason: str) -> None:
        super().__init__(f"{kind} {ident!r}: {reason}")
        self.kind = kind
        self.ident = ident
        self.reason = reason


class BrokerUnavailableError(AiopsError):
    """Kafka did not acknowledge a write in time; the caller should retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"broker unavailable: {reason}")
        self.reason = reason


class BackpressureError(AiopsError):
    """A downstream destination asked us to slow down."""

    def __init__(self, destination: str, retry_after: float) -> None:
        super().__init__(f"{destination}: retry after {retry_after:.1f}s")
        self.destination = destination
        self.retry_after = retry_after
