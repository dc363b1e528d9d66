"""Per-key rate limiting: one token bucket per API key, in memory.

Written by hand because it is a dozen lines: the libraries for this (slowapi,
limits) add storage back-ends and decorators the single-process server does not
need.

>>> bucket = RateLimiter(per_minute=60, burst=2)
>>> [bucket.allow("k", now=0.0) for _ in range(3)]
[True, True, False]
>>> bucket.allow("k", now=1.0)  # one token back per second
True
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token buckets: ``burst`` tokens, refilled at ``per_minute / 60`` per second."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def retry_after(self) -> int:
        """Seconds until one token is back."""
        return max(1, int(round(1.0 / self.rate)))
