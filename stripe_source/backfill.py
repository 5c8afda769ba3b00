"""Event backfill and reprocessing: `stripe-sync process-events`.

The events a user selects (every event Stripe still serves, those whose webhook delivery failed,
some types, or some ids) are stored in the `events` table, merged on (`id`, `_account_id`), and
applied to the model tables by the incremental sync's rules: the newest event per object wins,
a row is never replaced by an older version, sub-lists are completed. Processing the same events
again changes nothing, and replaying an old event never overwrites a newer row.

Each event's row records what became of it (`processing_status`: applied, superseded, unmodelled
or failed, with `processing_error`), so one event that cannot be applied never stops the others.
Stripe serves events for 30 days only; older ones cannot be backfilled.
"""

from __future__ import annotations

import fnmatch
import re
import traceback
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
import stripe
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from stripe_source.accounts import StripeAccount
from stripe_source.api import KeyRejectedError, PermissionDeniedError
from stripe_source.apply import ChangeApplier
from stripe_source.catalog import EVENT_MODEL
from stripe_source.changes import Status, plan_events, selected_names
from stripe_source.config import BadInputError
from stripe_source.destination import DestinationReader, Tombstone, save_tombstones
from stripe_source.events import list_events, oldest_served, retrieve_events
from stripe_source.keys import ApiKey
from stripe_source.report import Outcome, SyncReport
from stripe_source.rows import MERGE_KEY, SyncOptions, TableWriter
from stripe_source.runner import SyncResult, run_source
from stripe_source.schema import column_hints

# Every event type the pinned SDK knows: what a `--type` pattern must match at least one of.
EVENT_TYPES: tuple[str, ...] = typing.get_args(typing.get_type_hints(stripe.Event)["type"])
EVENT_TYPE_PATTERN = re.compile(r"^[a-z0-9_.*]+$")
# A minute inside the window, so a slow listing does not ask for events that expired meanwhile.
WINDOW_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class EventSelection:
    """Which events to process: all served ones unless narrowed.

    Filters combine: `ids` are retrieved one by one and then narrowed by `types` and `failed`;
    otherwise each type pattern is one listing with Stripe's own `type` filter (it takes one
    pattern per request) and `failed` becomes `delivery_success=false`.
    """

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    failed: bool = False

    def __post_init__(self) -> None:
        for event_id in self.ids:
            if not event_id.startswith("evt_"):
                raise BadInputError(
                    f"--ids {event_id!r} is not an event id; event ids start with evt_ "
                    "(the `id` of an event in the Stripe dashboard or the events table)"
                )
        for pattern in self.types:
            if not EVENT_TYPE_PATTERN.match(pattern):
                raise BadInputError(
                    f"--type {pattern!r} is not an event type pattern; use lowercase names with "
                    "an optional *, such as payment_intent.succeeded or 'customer.subscription.*'"
                )
            if not any(fnmatch.fnmatchcase(known, pattern) for known in EVENT_TYPES):
                raise BadInputError(
                    f"--type {pattern!r} matches no Stripe event type; valid types look like "
                    f"{', '.join(_similar_types(pattern))}"
                )

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether a retrieved event passes the type and delivery filters."""
        if self.types and not any(fnmatch.fnmatchcase(event["type"], t) for t in self.types):
            return False
        return not self.failed or event.get("pending_webhooks", 0) > 0


def _similar_types(pattern: str) -> list[str]:
    prefix = pattern.split(".")[0].rstrip("*s")
    similar = [known for known in EVENT_TYPES if known.startswith(prefix[:4])] if prefix else []
    return (similar or ["payment_intent.succeeded", "customer.subscription.*"])[:4]


@dataclass(frozen=True)
class ProcessedEvent:
    """One selected event and what became of it, for the per-event lines of `-v 2`."""

    account_id: str
    event_id: str
    type: str
    object_id: str | None
    status: Status
    error: str | None = None
    traceback: str | None = None


@dataclass
class BackfillResult:
    """What a processing run did, per event and per account."""

    events: list[ProcessedEvent] = field(default_factory=list)
    missing: dict[str, set[str]] = field(default_factory=dict)
    served_since: dict[str, float] = field(default_factory=dict)

    def unknown_ids(self) -> list[str]:
        """Ids no account knows (or still serves)."""
        if not self.missing:
            return []
        return sorted(set.intersection(*self.missing.values()))

    def count(self, status: Status) -> int:
        return sum(1 for event in self.events if event.status is status)

    @property
    def failed(self) -> bool:
        return bool(self.unknown_ids()) or self.count(Status.FAILED) > 0


@dlt.source(name="stripe", section="stripe_source", max_table_nesting=2)
def event_backfill_source(
    accounts: list[StripeAccount],
    selection: EventSelection,
    result: BackfillResult,
    report: SyncReport,
    reader: DestinationReader | None = None,
    hard_deletes: bool = False,
) -> Iterator[DltResource]:
    """The selected events of every account into `events`, and their changes into the model
    tables: the same dataset, schema and state as `stripe_source`, so both keep one set of
    tables."""
    options = SyncOptions(hard_deletes=hard_deletes, reader=reader)
    yield dlt.resource(
        _event_backfill_rows(accounts, selection, result, report, options),
        name=EVENT_MODEL.table,
        primary_key=MERGE_KEY,
        write_disposition="merge",
        columns=event_columns(),
    )


def event_columns() -> dict[str, Any]:
    """The event's own columns, its payload kept whole as JSON (its shape is the object's),
    and what processing made of it."""
    return {
        **column_hints(EVENT_MODEL),
        "data": {"name": "data", "data_type": "json"},
        "processing_status": {"name": "processing_status", "data_type": "text"},
        "processing_error": {"name": "processing_error", "data_type": "text"},
        "processed_at": {"name": "processed_at", "data_type": "timestamp", "timezone": True},
    }


def _event_backfill_rows(
    accounts: list[StripeAccount],
    selection: EventSelection,
    result: BackfillResult,
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[Any]:
    writer = TableWriter(EVENT_MODEL, options)
    everything = selected_names(None)
    tombstones: list[Tombstone] = []
    for account in accounts:
        result.served_since[account.account_id] = oldest_served(account)
        try:
            pages = _selected_events(account, selection, result, report)
        except (stripe.StripeError, KeyRejectedError, PermissionDeniedError) as error:
            report.record_failure("Event", account.account_id, account.key.masked, error)
            report.mark(
                "Event", account.account_id, account.key.masked, Outcome.FAILED, str(error)[:200]
            )
            continue
        events = {event["id"]: event for page in pages for event in page}

        applier = ChangeApplier(account, everything, writer, options, report, tombstones)
        yield from applier.apply(plan_events(pages, everything, stripe.api_version))

        processed_at = datetime.now(UTC)
        rows = []
        for event in events.values():
            outcome = _processed(event, account, applier)
            result.events.append(outcome)
            rows.append(
                {
                    **event,
                    "_account_id": account.account_id,
                    "processing_status": outcome.status.value,
                    "processing_error": outcome.error,
                    "processed_at": processed_at,
                }
            )
        if rows:
            yield rows
    save_tombstones(EVENT_MODEL.table, tombstones)


def _selected_events(
    account: StripeAccount, selection: EventSelection, result: BackfillResult, report: SyncReport
) -> list[list[dict[str, Any]]]:
    if selection.ids:
        found, missing = retrieve_events(account, report, list(selection.ids))
        result.missing[account.account_id] = set(missing)
        return [[event for event in found if selection.matches(event)]]

    since = int(oldest_served(account)) + WINDOW_MARGIN_SECONDS
    pages: list[list[dict[str, Any]]] = []
    for pattern in selection.types or (None,):
        pages += list_events(
            account, report, since=since, type_pattern=pattern, failed_only=selection.failed
        )
    return pages


def _processed(
    event: dict[str, Any], account: StripeAccount, applier: ChangeApplier
) -> ProcessedEvent:
    status = applier.outcomes.status.get(event["id"], Status.APPLIED)
    error = applier.outcomes.errors.get(event["id"])
    obj = event.get("data", {}).get("object") or {}
    return ProcessedEvent(
        account.account_id,
        event["id"],
        event["type"],
        obj.get("id"),
        status,
        f"{type(error).__name__}: {error}" if error is not None else None,
        "".join(traceback.format_exception(error)) if error is not None else None,
    )


def run_backfill(
    pipeline: dlt.Pipeline,
    keys: list[ApiKey],
    selection: EventSelection,
    *,
    api_base: str,
    rate_limit: float | None = None,
    account_ids: Sequence[str] = (),
    hard_deletes: bool = False,
    show_progress: bool = True,
) -> tuple[SyncResult, BackfillResult]:
    """Process the selected events of every key into the pipeline's dataset."""
    result = BackfillResult()

    def make_source(
        accounts: list[StripeAccount], report: SyncReport, reader: DestinationReader
    ) -> DltSource:
        return event_backfill_source(accounts, selection, result, report, reader, hard_deletes)

    synced = run_source(
        pipeline,
        keys,
        make_source,
        api_base=api_base,
        rate_limit=rate_limit,
        account_ids=account_ids,
        hard_deletes=hard_deletes,
        show_progress=show_progress,
    )
    return synced, result
