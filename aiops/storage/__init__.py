"""Storage: SQLAlchemy models, the :class:`Store` repository, the outbox and migrations.

Nothing here connects at import time: build an engine with :func:`create_engine` from the
configured URL, migrate it with :func:`aiops.storage.migrate.upgrade`, then wrap it in a
:class:`Store`.
"""

from aiops.storage import checkpoints as _checkpoints  # noqa: F401  (its table on metadata)
from aiops.storage import remediation as _remediation  # noqa: F401  (its tables on metadata)
from aiops.storage import silences as _silences  # noqa: F401  (its table on metadata)
from aiops.storage.engine import create_engine, normalize_url
from aiops.storage.errors import StorageUnavailableError, UnsupportedDatabaseError
from aiops.storage.outbox import OutboxMessage, OutboxRow
from aiops.storage.repository import Store
from aiops.storage.tables import metadata

__all__ = [
    "OutboxMessage",
    "OutboxRow",
    "StorageUnavailableError",
    "Store",
    "UnsupportedDatabaseError",
    "create_engine",
    "metadata",
    "normalize_url",
]
