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

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets: ``burst`` tokens, refilled at ``per_minute / 60`` per second. A request may cost
    more than one token (text analysis costs one per character); ``clock`` is injectable."""

    def __init__(self, per_minute: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket; False (nothing taken) when it holds fewer."""
        now = self.clock() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - cost, now)
            return True

    def retry_after(self, key: str | None = None, cost: float = 1.0) -> int:
        """Seconds until ``cost`` tokens are back (in ``key``'s bucket when given)."""
        missing = cost
        if key is not None:
            with self._lock:
                tokens, last = self._buckets.get(key, (self.burst, self.clock()))
            missing = cost - min(self.burst, tokens + (self.clock() - last) * self.rate)
        return max(1, math.ceil(missing / self.rate))
