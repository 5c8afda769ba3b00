"""One request budget per API key, shared by every thread that talks to Stripe with that key."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token bucket that spaces requests evenly at `rate` per second.

    Stripe counts requests per second per account; bursting a whole second's budget at once is
    what earns 429s, so the bucket holds at most a fifth of a second of tokens.
    """

    def __init__(self, rate: float, burst_seconds: float = 0.2) -> None:
        if rate <= 0:
            raise ValueError(f"rate limit must be positive, got {rate}")
        self.rate = rate
        self._capacity = max(1.0, rate * burst_seconds)
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        """After a 429, spend the next `seconds` of budget so every thread backs off together."""
        with self._lock:
            self._tokens -= seconds * self.rate
