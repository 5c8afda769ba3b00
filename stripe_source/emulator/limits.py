"""What makes the emulator behave like a busy remote API: latency, rate limits, faults, metrics.

Everything here can be changed while the server runs (`POST /_emulator/config`), so one test can
switch rate limiting on for a few requests and off again without restarting the emulator.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

LATENCY_JITTER = 0.2

Fault = Literal["api_error", "unavailable", "dropped_connection"]
FAULTS: tuple[Fault, ...] = ("api_error", "unavailable", "dropped_connection")

# Stripe's `Stripe-Rate-Limited-Reason` header values for the two limiters emulated here.
GLOBAL_RATE = "global-rate"
ENDPOINT_RATE = "endpoint-rate"


class ConfigError(ValueError):
    """A simulation setting out of range; the message names the value and the valid range."""


@dataclass
class SimulationConfig:
    """Settings of the simulated network and server.

    Attributes:
        latency_ms: added to every API answer, with ±20% jitter.
        rate_limit: requests per second one API key may make (token bucket); None for no limit.
        per_endpoint_rate_limit: requests per second per key and route pattern; None for none.
        fault_rate: fraction of API requests answered with a 500, a 503 or a dropped connection.
    """

    latency_ms: float = 0.0
    rate_limit: float | None = None
    per_endpoint_rate_limit: float | None = None
    fault_rate: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("latency_ms", "fault_rate", "rate_limit", "per_endpoint_rate_limit"):
            value = getattr(self, name)
            optional = name.endswith("rate_limit")
            if (value is None and optional) or (
                isinstance(value, int | float) and not isinstance(value, bool)
            ):
                continue
            raise ConfigError(f"{name} {value!r} is not a number")
        if self.latency_ms < 0:
            raise ConfigError(f"latency_ms {self.latency_ms} is negative; use 0 or more")
        for name in ("rate_limit", "per_endpoint_rate_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(
                    f"{name} {value} must be a positive number of requests per second, "
                    "or null for no limit"
                )
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault_rate {self.fault_rate} is outside 0..1; use e.g. 0.05")

    def changed(self, **changes: Any) -> SimulationConfig:
        """A copy with some settings replaced; unknown names are refused."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting {', '.join(unknown)}; valid settings: {', '.join(sorted(known))}"
            )
        merged = {**asdict(self), **changes}
        return SimulationConfig(**merged)


class TokenBucket:
    """Allows `rate` requests per second with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Stripe's request-rate limiters: one per key, and one per key and endpoint."""

    def __init__(self) -> None:
        self._per_key: dict[str, TokenBucket] = {}
        self._per_endpoint: dict[tuple[str, str], TokenBucket] = {}

    def reset(self) -> None:
        self._per_key.clear()
        self._per_endpoint.clear()

    def check(self, config: SimulationConfig, key: str, route: str) -> str | None:
        """None when the request may proceed, else the limiter that refused it."""
        if config.rate_limit is not None:
            bucket = self._per_key.get(key)
            if bucket is None or bucket.rate != config.rate_limit:
                bucket = self._per_key[key] = TokenBucket(config.rate_limit)
            if not bucket.take():
                return GLOBAL_RATE
        if config.per_endpoint_rate_limit is not None:
            endpoint = (key, route)
            bucket = self._per_endpoint.get(endpoint)
            if bucket is None or bucket.rate != config.per_endpoint_rate_limit:
                bucket = self._per_endpoint[endpoint] = TokenBucket(config.per_endpoint_rate_limit)
            if not bucket.take():
                return ENDPOINT_RATE
        return None


class Metrics:
    """Counts of requests served, by route pattern and status, plus what the simulation injected.

    Requests come from the server's event loop while tests read from another thread, so updates
    and snapshots take a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: Counter[tuple[str, str, str]] = Counter()
        self._rate_limited: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def served(self, method: str, route: str, status: str) -> None:
        """Count one answer; `status` is the HTTP status, or `dropped` for a closed connection."""
        with self._lock:
            self._served[(method, route, status)] += 1

    def rate_limited(self, reason: str) -> None:
        with self._lock:
            self._rate_limited[reason] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def reset(self) -> None:
        with self._lock:
            self._served.clear()
            self._rate_limited.clear()
            self._faults.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_endpoint: dict[str, dict[str, int]] = {}
            for (method, route, status), count in sorted(self._served.items()):
                by_endpoint.setdefault(f"{method} {route}", {})[status] = count
            return {
                "requests": sum(self._served.values()),
                "by_endpoint": by_endpoint,
                "rate_limited": sum(self._rate_limited.values()),
                "rate_limited_by_reason": dict(self._rate_limited),
                "faults": sum(self._faults.values()),
                "faults_by_kind": dict(self._faults),
            }


class Simulation:
    """The current settings with the state they drive (buckets, random faults, metrics)."""

    def __init__(self, config: SimulationConfig | None = None, seed: int | None = None) -> None:
        self.config = config or SimulationConfig()
        self.limiter = RateLimiter()
        self.metrics = Metrics()
        self._random = random.Random(seed)

    def configure(self, **changes: Any) -> SimulationConfig:
        self.config = self.config.changed(**changes)
        self.limiter.reset()
        return self.config

    def latency_seconds(self) -> float:
        base = self.config.latency_ms / 1000.0
        if base <= 0:
            return 0.0
        return base * self._random.uniform(1 - LATENCY_JITTER, 1 + LATENCY_JITTER)

    def fault(self) -> Fault | None:
        """Which fault, if any, this request suffers; each kind is equally likely."""
        rate = self.config.fault_rate
        if rate <= 0 or self._random.random() >= rate:
            return None
        kind = self._random.choice(FAULTS)
        self.metrics.fault(kind)
        return kind

    def rate_limited(self, key: str, route: str) -> str | None:
        reason = self.limiter.check(self.config, key, route)
        if reason is not None:
            self.metrics.rate_limited(reason)
        return reason
