"""A token bucket per destination, with a pause for ``Retry-After``."""

from __future__ import annotations


class TokenBucket:
    """``rate`` sends per second on average, bursts of up to ``burst``.

    >>> b = TokenBucket(rate=1.0, burst=1.0, now=0.0)
    >>> b.take(0.0), b.take(0.5), b.wait(0.5), b.take(1.0)
    (True, False, 0.5, True)
    >>> b.pause_until(10.0); b.take(5.0)
    False
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0 when it is now)."""
        self._refill(now)
        paused = max(0.0, self._paused_until - now)
        missing = max(0.0, (1.0 - self._tokens) / self.rate)
        return max(paused, missing)

    def take(self, now: float) -> bool:
        if self.wait(now) > 0:
            return False
        self._tokens -= 1.0
        return True

    def pause_until(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)
