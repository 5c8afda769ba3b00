"""Requests to Stripe for one API key: the official SDK for transport and errors, our retry policy.

The SDK retries 5xx and 409 responses but not a plain 429 and ignores `Retry-After`; a sync that
runs at the rate limit sees 429s as a matter of course, so every retry decision lives here and the
SDK's own retries are off. Every attempt first takes a token from the key's rate limiter.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import stripe

from stripe_source.keys import ApiKey
from stripe_source.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_START = 0.5
BACKOFF_CAP = 16.0
DEFAULT_API_BASE = "https://api.stripe.com"


@dataclass(frozen=True)
class Response:
    """A decoded answer and when Stripe served it.

    `served_at` comes from the `Date` header, on Stripe's clock: rows fetched from a list are
    versioned by it, so they compare correctly with event `created` times even when this
    machine's clock is off.
    """

    data: Any
    served_at: float


def served_at_of(headers: Any) -> float:
    date = None
    for key, value in (headers or {}).items():
        if key.lower() == "date":
            date = value
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            pass
    return time.time()


class KeyRejectedError(Exception):
    """Stripe refused the key itself (401): nothing else can be synced with it."""


class PermissionDeniedError(Exception):
    """A restricted key lacks access to this resource (403)."""


@dataclass
class RequestStats:
    """Requests and retries, counted per model so the summary can show where time went."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, model: str, retry: bool) -> None:
        with self._lock:
            self.requests[model] += 1
            if retry:
                self.retries[model] += 1


class StripeApi:
    """GET requests for one key (optionally acting on a connected account)."""

    def __init__(
        self,
        key: ApiKey,
        *,
        api_base: str = DEFAULT_API_BASE,
        rate_limit: float | None = None,
        stripe_account: str | None = None,
        limiter: RateLimiter | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.key = key
        self.api_base = api_base
        self.limiter = limiter or RateLimiter(rate_limit or key.default_rate)
        self.stats = stats or RequestStats()
        self.stripe_account = stripe_account
        self._client = stripe.StripeClient(
            key.secret,
            base_addresses={"api": api_base},
            stripe_account=stripe_account,
            max_network_retries=0,
        )
        self.api_version = stripe.api_version
        self._active = 0
        self._latency = 0.3
        self._lock = threading.Lock()

    def for_account(self, account_id: str) -> StripeApi:
        """The same key and budget acting on a connected account (`Stripe-Account` header)."""
        return StripeApi(
            self.key,
            api_base=self.api_base,
            stripe_account=account_id,
            limiter=self.limiter,
            stats=self.stats,
        )

    def has_spare_capacity(self) -> bool:
        """Fewer requests under way than the budget can serve at the latency seen so far.

        To use `rate` requests/s when each takes `latency` seconds, about rate x latency must be
        in flight; callers split work only below that, with some headroom for jitter.
        """
        with self._lock:
            return self._active < self.limiter.rate * self._latency * 1.5 + 1

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        model: str = "",
        attempts: int = MAX_ATTEMPTS,
    ) -> Any:
        """GET a path and return the decoded JSON, retrying what Stripe says is retryable."""
        return self.request(path, params, model=model, attempts=attempts).data

    def request(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        model: str = "",
        attempts: int = MAX_ATTEMPTS,
    ) -> Response:
        """GET a path: the decoded JSON and the time on Stripe's clock when it was served."""
        with self._lock:
            self._active += 1
        try:
            return self._get_with_retries(path, params or {}, model, attempts)
        finally:
            with self._lock:
                self._active -= 1

    def _get_with_retries(
        self, path: str, params: dict[str, Any], model: str, attempts: int
    ) -> Any:
        for attempt in range(attempts):
            self.limiter.acquire()
            self.stats.count(model, retry=attempt > 0)
            started = time.monotonic()
            try:
                response = self._client.raw_request("get", path, **params)
                self._observe_latency(time.monotonic() - started)
                return Response(response.data, served_at_of(response.headers))
            except stripe.AuthenticationError as error:
                raise KeyRejectedError(
                    f"Stripe rejected key {self.key.masked} (401): {error.user_message}"
                ) from None
            except stripe.PermissionError as error:
                raise PermissionDeniedError(error.user_message) from None
            except stripe.RateLimitError as error:
                if _header(error, "stripe-should-retry") == "false":
                    raise
                delay = self._retry_delay(error, attempt)
                self.limiter.slow_down(delay)
            except (stripe.APIConnectionError, stripe.APIError) as error:
                if not self._should_retry(error):
                    raise
                delay = self._retry_delay(error, attempt)
            if attempt + 1 < attempts:
                logger.debug("retrying GET %s in %.2fs (attempt %d)", path, delay, attempt + 2)
                time.sleep(delay)
        raise stripe.APIConnectionError(f"GET {path} failed after {attempts} attempts")

    def _observe_latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = 0.9 * self._latency + 0.1 * seconds

    @staticmethod
    def _should_retry(error: stripe.StripeError) -> bool:
        should_retry = _header(error, "stripe-should-retry")
        if should_retry is not None:
            return should_retry == "true"
        if isinstance(error, stripe.APIConnectionError):
            return True
        return (error.http_status or 500) >= 500 or error.http_status == 409

    @staticmethod
    def _retry_delay(error: stripe.StripeError, attempt: int) -> float:
        """`Retry-After` when Stripe sends it, else capped exponential backoff with full jitter."""
        retry_after = _header(error, "retry-after")
        if retry_after is not None:
            try:
                return float(retry_after)
            except ValueError:
                pass
        ceiling = min(BACKOFF_CAP, BACKOFF_START * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


def _header(error: stripe.StripeError, name: str) -> str | None:
    for key, value in (error.headers or {}).items():
        if key.lower() == name:
            return value
    return None
