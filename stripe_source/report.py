"""What a sync did, per model and account: rows, pages, requests, retries, time, and outcome."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from stripe_source.api import KeyRejectedError, PermissionDeniedError

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class ModelReport:
    model: str
    account: str
    key: str
    rows: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    outcome: Outcome = Outcome.OK
    message: str = ""

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass
class SyncReport:
    """Shared by the resources of a run (they run on several threads) and read by the display."""

    entries: dict[tuple[str, str], ModelReport] = field(default_factory=dict)
    key_errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def entry(self, model: str, account: str, key: str) -> ModelReport:
        with self._lock:
            found = self.entries.get((model, account))
            if found is None:
                found = self.entries[(model, account)] = ModelReport(model, account, key)
            return found

    def add_page(self, model: str, account: str, key: str, rows: int) -> None:
        entry = self.entry(model, account, key)
        with self._lock:
            entry.rows += rows
            entry.pages += 1

    def finish(self, model: str, account: str, key: str, requests: int, retries: int) -> None:
        entry = self.entry(model, account, key)
        with self._lock:
            entry.requests, entry.retries = requests, retries
            entry.finished = time.monotonic()

    def mark(self, model: str, account: str, key: str, outcome: Outcome, message: str) -> None:
        entry = self.entry(model, account, key)
        with self._lock:
            if entry.outcome is not Outcome.FAILED:
                entry.outcome, entry.message = outcome, message

    def record_failure(self, model: str, account: str, key: str, error: BaseException) -> None:
        """A model that failed for an account: a 403 skips it, a 401 stops the key, the rest
        fail the model (and the run's exit code) while everything else carries on."""
        if isinstance(error, PermissionDeniedError):
            logger.warning(
                "key %s cannot read %s; grant it read access or leave the model out", key, model
            )
            self.mark(model, account, key, Outcome.SKIPPED, "no permission (403)")
        elif isinstance(error, KeyRejectedError):
            logger.error("%s", error)
            self.reject_key(key, str(error))
            self.mark(model, account, key, Outcome.FAILED, "key rejected (401)")
        else:
            logger.error("reading %s for %s failed: %s", model, account, error)
            logger.debug("reading %s failed", model, exc_info=error)
            self.mark(model, account, key, Outcome.FAILED, str(error)[:200])

    def reject_key(self, key: str, message: str) -> None:
        with self._lock:
            self.key_errors[key] = message

    @property
    def failed(self) -> bool:
        return bool(self.key_errors) or any(
            e.outcome is Outcome.FAILED for e in self.entries.values()
        )

    def rows(self) -> list[ModelReport]:
        with self._lock:
            return sorted(self.entries.values(), key=lambda e: (e.model, e.account))
