"""Storage errors, rooted at :class:`aiops.model.AiopsError` and carrying what went wrong."""

from __future__ import annotations

from aiops.model import AiopsError


class StorageUnavailableError(AiopsError):
    """The database did not answer; readiness checks report ``reason``."""

    def __init__(self, reason: str, *, backend: str = "") -> None:
        super().__init__(f"storage unavailable ({backend}): {reason}" if backend else reason)
        self.reason = reason
        self.backend = backend


class UnsupportedDatabaseError(AiopsError):
    """The store speaks SQLite and PostgreSQL only."""

    def __init__(self, dialect: str) -> None:
        super().__init__(f"unsupported database {dialect!r}: use sqlite or postgresql")
        self.dialect = dialect
