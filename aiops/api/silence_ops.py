"""Creating, replacing and expiring a silence: the steps every front door shares.

The v1 routes, Alertmanager's v2 routes (``amtool``, Grafana) and the console all change
silences the same way: validate, store, then announce the change on the alerts topic so the
correlate stage (the owner of alert state) applies it in order with the alerts. If the broker
does not take the announcement the store is put back as it was (503, retry), so a silence is
never kept that the correlator did not hear of.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import HTTPException

from aiops.api.deps import ApiDeps
from aiops.api.receivers import _publish
from aiops.model import NotFoundError
from aiops.silences import SilenceError, SilenceSpec, parse_silence, silence_message
from aiops.storage.silences import SilenceStore
from streams.producer import Record

#: The key of silence messages on the alerts topic (one key: they stay in order).
SILENCE_KEY = b"silence"


def silence_store(api: ApiDeps) -> SilenceStore:
    return SilenceStore(api.store.engine)


async def announce(api: ApiDeps, spec: SilenceSpec, receiver: str = "silences") -> None:
    record = Record(api.topics.alerts, SILENCE_KEY, silence_message(spec))
    await _publish(api, [record], receiver)


async def save_silence(api: ApiDeps, raw: Any, receiver: str = "silences") -> SilenceSpec:
    """Create a silence, or replace the unexpired one whose ``id`` ``raw`` names.

    404 for an unknown id, 409 for an expired one, 422 with the reason for bad matchers or
    times, 503 when the broker did not take it (nothing changed then).
    """
    now = time.time()
    store = silence_store(api)
    ident = raw.get("id") if isinstance(raw, dict) else None
    existing: SilenceSpec | None = None
    if ident:
        try:
            existing = store.get(str(ident))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        if existing.state(now) == "expired":
            raise HTTPException(409, f"silence {ident!r} has expired; create a new one")
    try:
        spec = parse_silence(raw, now=now, ident=str(ident or uuid.uuid4()))
    except SilenceError as exc:
        raise HTTPException(422, exc.reason) from exc
    store.save(spec)
    try:
        await announce(api, spec, receiver)
    except HTTPException:
        if existing is None:
            store.delete(spec.id)
        else:
            store.save(existing)
        raise
    return spec


async def expire_silence(api: ApiDeps, silence_id: str, receiver: str = "silences"
                         ) -> SilenceSpec:
    """Expire a silence now (404 if unknown); expiring an expired one changes nothing."""
    now = time.time()
    try:
        spec = silence_store(api).expire(silence_id, now)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    await announce(api, spec, receiver)
    return spec
