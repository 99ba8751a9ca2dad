"""Drains the notification outbox: rate limits, retries, and in-doubt reconciliation.

Delivery guarantee, exactly:

* **Nothing is lost.** A row leaves the outbox only through ``mark_sent`` after the
  destination answered 2xx, or by being parked after a permanent 4xx (kept, with its error,
  for an operator). A crash at any point leaves the row pending.
* **Nothing is sent twice to a destination that deduplicates** (PagerDuty by ``dedup_key``,
  signed webhooks by ``Idempotency-Key``): before a send the row is claimed (``sending``,
  with a lease); a crash between the send and ``mark_sent`` leaves it *in doubt*, and it is
  resent with the same key, which the destination absorbs.
* **Slack incoming webhooks** have no key: an in-doubt row is first reconciled against the
  channel history (:class:`~aiops.notify.slack.SlackHistory`, when a bot token is
  configured) and resent only if its key is not found there. Without history access an
  in-doubt row is resent (at-least-once: a page may repeat, it is never dropped).
* Outside that crash window a row is sent exactly once: a redelivered incident enqueues
  nothing new (``(destination, dedup_key)`` is unique), and a claimed row is invisible to
  other senders until its lease ends.

Retry policy: ``Retry-After`` on 429 (and the destination pauses until then); exponential
backoff with jitter on 5xx and network errors, up to ``max_attempts``; no retry on other
4xx (the row is parked).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiops.logsetup import notification_event
from aiops.model import Incident
from aiops.notify.errors import BackpressureError, PermanentDeliveryError, TransientDeliveryError
from aiops.notify.ratelimit import TokenBucket
from aiops.storage.delivery import SENDING, claim
from aiops.storage.repository import OutboxRow, Store

log = logging.getLogger(__name__)

PREFIX = "notify:"
PARKED_AT = 1e18
UNLIMITED = (1000.0, 1000.0)  # next_attempt_at of a row that must never be retried automatically


class Destination(Protocol):
    """What the outbox needs from a notification channel."""

    name: str
    idempotent: bool

    def render(self, incident: Incident, key: str) -> bytes: ...

    def deliver(self, payload: bytes, key: str, now: float) -> None: ...

    def delivered(self, key: str, since: float) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 1.0
    max_s: float = 300.0
    max_attempts: int = 12
    lease_s: float = 30.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff: uniform in [d/2, d], d = base * 2**failures."""
        delay = min(self.max_s, self.base_s * 2.0 ** max(0, failures))
        return delay * (0.5 + 0.5 * rng.random())


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    reconciled: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


class OutboxDispatcher:
    """Sends pending ``notify:<name>`` outbox rows to their destinations."""

    def __init__(
        self,
        store: Store,
        destinations: Mapping[str, Destination],
        *,
        rates: Mapping[str, tuple[float, float]] | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._destinations = dict(destinations)
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        now = clock()
        rates = rates or {}
        # Every destination gets a bucket, if only to hold a Retry-After pause.
        self._buckets = {
            name: TokenBucket(*rates.get(name, UNLIMITED), now) for name in self._destinations
        }

    def drain(self, *, limit: int = 200) -> DrainReport:
        """One pass over the due rows, oldest first; never sleeps (rate-limited rows wait
        for the next pass)."""
        report = DrainReport()
        blocked: set[str] = set()
        # Per destination, so a backlog elsewhere in the outbox (another destination, the
        # incident feed) never starves this one.
        for name, destination in self._destinations.items():
            for row in self._store.pending(PREFIX + name, now=self._clock(), limit=limit):
                if name in blocked:
                    break
                bucket = self._buckets.get(name)
                if bucket is not None and bucket.wait(self._clock()) > 0:
                    blocked.add(name)  # keep per-destination order: later rows wait too
                    report.deferred += 1
                    break
                self._one(row, destination, bucket, report, blocked)
        return report

    def _one(
        self,
        row: OutboxRow,
        destination: Destination,
        bucket: TokenBucket | None,
        report: DrainReport,
        blocked: set[str],
    ) -> None:
        now = self._clock()
        if row.last_error == SENDING:
            found = destination.delivered(row.dedup_key, row.created_at - 60.0)
            if found:
                self._store.mark_sent([row.id], now)
                report.reconciled += 1
                return
        if not claim(self._store.engine, row.id, row.attempts, now + self._policy.lease_s):
            return  # another sender has it
        if bucket is not None:
            bucket.take(now)
        try:
            destination.deliver(row.payload, row.dedup_key, now)
        except BackpressureError as exc:
            until = self._clock() + exc.retry_after
            if bucket is not None:
                bucket.pause_until(until)
            blocked.add(destination.name)
            self._store.mark_failed(row.id, f"429: retry after {exc.retry_after:.1f}s", until)
            report.retried += 1
            log.warning("notification %s to %s retried: 429", row.dedup_key, row.destination,
                        extra=notification_event("retried", row, f"429: {exc.retry_after:.1f}s"))
            return
        except TransientDeliveryError as exc:
            log.warning("notification %s to %s failed: %s", row.dedup_key, row.destination,
                        exc.reason, extra=notification_event("failed", row, exc.reason))
            failures = (row.attempts + 2) // 2
            if failures >= self._policy.max_attempts:
                self._park(row, f"gave up after {failures} attempts: {exc.reason}", report)
                return
            delay = self._policy.backoff(failures - 1, self._rng)
            self._store.mark_failed(row.id, exc.reason, self._clock() + delay)
            report.retried += 1
            log.info("notification %s to %s retried in %.1fs", row.dedup_key, row.destination,
                     delay, extra=notification_event("retried", row, exc.reason))
            report.errors.append(str(exc))
            return
        except PermanentDeliveryError as exc:
            log.warning("notification %s to %s failed: HTTP %s", row.dedup_key, row.destination,
                        exc.status, extra=notification_event("failed", row, f"HTTP {exc.status}"))
            self._park(row, f"HTTP {exc.status}: {exc.body[:500]}", report)
            return
        self._store.mark_sent([row.id], self._clock())
        report.sent += 1
        log.info("notification %s to %s sent", row.dedup_key, row.destination,
                 extra=notification_event("sent", row))

    def _park(self, row: OutboxRow, error: str, report: DrainReport) -> None:
        log.error("notification %s to %s dropped: %s", row.dedup_key, row.destination, error,
                  extra=notification_event("dropped", row, error))
        self._store.mark_failed(row.id, error, PARKED_AT)
        report.parked += 1
        report.errors.append(error)
