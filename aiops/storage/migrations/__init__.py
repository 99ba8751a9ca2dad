"""Alembic migrations of the storage schema; run them with :mod:`aiops.storage.migrate`."""
