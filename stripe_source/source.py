"""The dlt source: one resource per Stripe model, for one or many API keys.

Stripe has no `updated` field and lists filter only on `created`. A full sync lists every object
of every selected model. An incremental run lists only objects created since the model's cursor
(one cheap request when nothing is new) and learns about changes and deletions from the Events
API, which keeps 30 days: a model whose event cursor is older than that is listed in full again.
A full listing also finds rows whose objects are gone and marks them deleted.

Each table merges on (`id`, `_account_id`) and keeps, per key, the version with the newest
`_updated_at` (the event time, or Stripe's clock when the object was fetched), so running again,
after a killed run or with events out of order, converges to the same rows without duplicates.

Models Stripe lists only under a parent (invoice lines, subscription items, ...) load through their
parent's resource, which already holds their first 10 items embedded: they land in their own
table with a `_parent_id` column, and the parent's row does not repeat them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt
import stripe
from dlt.extract.resource import DltResource

from stripe_source.accounts import StripeAccount, connect_accounts
from stripe_source.api import DEFAULT_API_BASE, KeyRejectedError, PermissionDeniedError
from stripe_source.catalog import EVENT_MODEL, MODELS, Model, children_of
from stripe_source.changes import Change, plan_events, selected_names
from stripe_source.destination import DestinationReader, Tombstone
from stripe_source.fetch import Batch, Failure, ModelLister, TaskGroup, selected_children
from stripe_source.keys import parse_key
from stripe_source.report import Outcome, SyncReport
from stripe_source.schema import column_hints, embedded_fields, has_created_time

logger = logging.getLogger(__name__)

MERGE_KEY = ("id", "_account_id")
OVERLAP_SECONDS = 300
EVENT_RETENTION_SECONDS = 30 * 86_400
EVENT_MARGIN_SECONDS = 86_400
EVENTS_RESOURCE = "stripe_events"


@dataclass(frozen=True)
class SyncOptions:
    incremental: bool = False
    hard_deletes: bool = False
    reader: DestinationReader | None = None


@dlt.source(name="stripe", section="stripe_source", max_table_nesting=2)
def stripe_source(
    api_keys: Sequence[str] = dlt.secrets.value,
    models: Sequence[str] | None = None,
    api_base: str = DEFAULT_API_BASE,
    rate_limit: float | None = None,
    incremental: bool = False,
    hard_deletes: bool = False,
    accounts: list[StripeAccount] | None = None,
    report: SyncReport | None = None,
    reader: DestinationReader | None = None,
) -> Iterator[DltResource]:
    """Every selected model of every account the keys read.

    Args:
        api_keys: secret or restricted keys; each may belong to a different account.
        models: catalog model names; all models when empty.
        api_base: any Stripe-compatible server (the emulator, localstripe, stripe-mock).
        rate_limit: requests per second per key; Stripe's 25 (test) or 100 (live) when unset.
        incremental: list only what is new and apply events, once a model has been synced.
        hard_deletes: remove deleted objects' rows instead of marking them `is_deleted`.
        accounts: already connected accounts, when the caller owns their threads.
        report: collects rows, requests and failures for the run summary.
        reader: the destination's rows, for newer-wins and for finding deleted objects; without
            it every arriving version is loaded and no deletion is inferred from a listing.
    """
    report = report if report is not None else SyncReport()
    if accounts is None:
        keys = [parse_key(key) for key in api_keys]
        accounts = connect_accounts(keys, api_base=api_base, rate_limit=rate_limit, report=report)
    options = SyncOptions(incremental=incremental, hard_deletes=hard_deletes, reader=reader)

    selected = selected_names(list(models or []))
    groups = []
    for model in MODELS:
        if model.is_child:
            continue
        children = selected_children(model, selected)
        if model.name in selected or children:
            groups.append(model)
            yield _model_resource(
                model, children, model.name in selected, accounts, report, options
            )
    if incremental:
        yield dlt.resource(
            _event_rows(groups, selected, accounts, report, options),
            name=EVENTS_RESOURCE,
            parallelized=True,
        )


# table shape


def table_columns(model: Model, options: SyncOptions) -> dict[str, Any]:
    """Column hints shared by every writer of a model's table."""
    columns: dict[str, Any] = {
        **column_hints(model),
        "_updated_at": {
            "name": "_updated_at",
            "data_type": "timestamp",
            "timezone": True,
            "dedup_sort": "desc",
        },
        "is_deleted": {"name": "is_deleted", "data_type": "bool"},
        "deleted_at": {"name": "deleted_at", "data_type": "timestamp", "timezone": True},
    }
    if model.is_child:
        columns["_parent_id"] = {"name": "_parent_id", "data_type": "text"}
    if options.hard_deletes:
        columns["_deleted"] = {"name": "_deleted", "data_type": "bool", "hard_delete": True}
    return columns


def table_hints(model: Model, options: SyncOptions) -> Any:
    return dlt.mark.make_hints(
        table_name=model.table,
        primary_key=MERGE_KEY,
        write_disposition="merge",
        columns=table_columns(model, options),
    )


def make_row(
    obj: dict[str, Any],
    model: Model,
    account_id: str,
    version: float,
    parent_id: str | None = None,
    deleted_at: float | None = None,
) -> dict[str, Any]:
    """A Stripe object as a row: sub-lists dropped (they have tables), bookkeeping added."""
    dropped = embedded_fields(model)
    row = {key: value for key, value in obj.items() if key not in dropped and key != "deleted"}
    row["_account_id"] = account_id
    row["_updated_at"] = datetime.fromtimestamp(version, UTC)
    row["is_deleted"] = deleted_at is not None
    row["deleted_at"] = datetime.fromtimestamp(deleted_at, UTC) if deleted_at else None
    if model.is_child:
        row["_parent_id"] = parent_id
    return row


def to_rows(batch: Batch) -> list[dict[str, Any]]:
    return [
        make_row(obj, batch.model, batch.account_id, batch.version, batch.parent_id)
        for obj in batch.objects
    ]


class TableWriter:
    """Marks rows for the table they belong to, with the table's hints the first time."""

    def __init__(self, own: Model | None, options: SyncOptions) -> None:
        self._own = own
        self._options = options
        self._hinted: set[str] = set()

    def mark(self, model: Model, rows: list[dict[str, Any]]) -> Any:
        if model is self._own:
            return rows
        if model.table in self._hinted:
            return dlt.mark.with_table_name(rows, model.table)
        self._hinted.add(model.table)
        return dlt.mark.with_hints(
            rows, table_hints(model, self._options), create_table_variant=True
        )


# cursors


def _cursors(account_id: str) -> dict[str, dict[str, float]]:
    state = dlt.current.source_state()
    return state.setdefault("accounts", {}).setdefault(account_id, {}).setdefault("models", {})


def _events_expired(cursor: dict[str, float] | None, now: float) -> bool:
    event_cursor = (cursor or {}).get("event_cursor")
    return event_cursor is not None and event_cursor < now - EVENT_RETENTION_SECONDS + (
        EVENT_MARGIN_SECONDS
    )


def _must_relist(model: Model, cursor: dict[str, float] | None, now: float) -> bool:
    """A model is listed in full on its first run, after the event window passed, or when its
    objects carry no creation time at all (tax codes, features, payment links: small models)."""
    if not cursor or "event_cursor" not in cursor or _events_expired(cursor, now):
        return True
    return not (model.created_filter or has_created_time(model))


def _save_tombstones(writer: str, tombstones: list[Tombstone]) -> None:
    state = dlt.current.source_state()
    state.setdefault("tombstones", {})[writer] = [t.to_state() for t in tombstones]


# model resources


def _model_resource(
    parent: Model,
    children: tuple[Model, ...],
    keep_parent: bool,
    accounts: list[StripeAccount],
    report: SyncReport,
    options: SyncOptions,
) -> DltResource:
    return dlt.resource(
        _model_rows(parent, children, keep_parent, accounts, report, options),
        name=parent.table,
        primary_key=MERGE_KEY,
        write_disposition="merge",
        columns=table_columns(parent, options),
        parallelized=True,
    )


def _model_rows(
    parent: Model,
    children: tuple[Model, ...],
    keep_parent: bool,
    accounts: list[StripeAccount],
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[Any]:
    dlt.current.source_state()["api_version"] = stripe.api_version
    group = TaskGroup()
    relisted: set[str] = set()
    for account in accounts:
        cursor = _cursors(account.account_id).get(parent.name)
        relist = not options.incremental or _must_relist(parent, cursor, account.server_time)
        since = None if relist else int(cursor["created_cursor"]) - OVERLAP_SECONDS
        if relist:
            relisted.add(account.account_id)
        ModelLister(
            account.api,
            account.pool,
            account.account_id,
            parent,
            group,
            children,
            created_since=since,
            lower_bound=account.created,
            events_follow=not relist,
        ).start()

    by_id = {account.account_id: account for account in accounts}
    writer = TableWriter(parent, options)
    kept = (parent, *children) if keep_parent else children
    unseen = _loaded_ids(kept, [by_id[acct] for acct in relisted], options.reader)
    failed: set[str] = set()
    for item in group.results():
        account = by_id[item.account_id]
        if isinstance(item, Failure):
            _record_failure(item, account, report)
            failed.add(item.account_id)
            continue
        report.add_page(item.model.name, item.account_id, account.key.masked, len(item.objects))
        if (item.model.name, item.account_id) in unseen:
            unseen[(item.model.name, item.account_id)].difference_update(
                obj["id"] for obj in item.objects
            )
        if item.model is parent and not keep_parent:
            continue
        yield writer.mark(item.model, to_rows(item))

    tombstones = []
    for account in accounts:
        if account.account_id in failed:
            continue
        tombstones += _gone(kept, account, unseen)
        cursors = _cursors(account.account_id)
        cursors[parent.name] = {
            **cursors.get(parent.name, {}),
            "created_cursor": account.server_time,
            **({"event_cursor": account.server_time} if account.account_id in relisted else {}),
        }
    _save_tombstones(parent.table, tombstones)
    _finish(report, accounts, (parent, *children))


def _loaded_ids(
    models: Sequence[Model], accounts: list[StripeAccount], reader: DestinationReader | None
) -> dict[tuple[str, str], set[str]]:
    """Ids already loaded for the accounts listed in full; what the listing does not return
    again is gone, since Stripe lists no deleted object. Holding the loaded ids rather than the
    listed ones keeps a first sync from holding any."""
    if reader is None:
        return {}
    return {
        (model.name, account.account_id): reader.live_ids(model.table, account.account_id)
        for model in models
        for account in accounts
    }


def _gone(
    models: Sequence[Model], account: StripeAccount, unseen: dict[tuple[str, str], set[str]]
) -> list[Tombstone]:
    tombstones = []
    for model in models:
        gone = unseen.get((model.name, account.account_id))
        if gone:
            logger.info("%d %s of %s no longer exist", len(gone), model.table, account.account_id)
            tombstones.append(
                Tombstone(model.table, account.account_id, tuple(sorted(gone)), account.server_time)
            )
    return tombstones


def _finish(report: SyncReport, accounts: list[StripeAccount], models: Sequence[Model]) -> None:
    for account in accounts:
        stats = account.api.stats
        for model in models:
            report.finish(
                model.name,
                account.account_id,
                account.key.masked,
                stats.requests[model.name],
                stats.retries[model.name],
            )


# events


def _event_rows(
    groups: list[Model],
    selected: set[str],
    accounts: list[StripeAccount],
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[Any]:
    """Apply each account's events since its models' event cursors to their tables."""
    writer = TableWriter(None, options)
    tombstones: list[Tombstone] = []
    for account in accounts:
        cursors = _cursors(account.account_id)
        known = [
            cursors[g.name]["event_cursor"]
            for g in groups
            if "event_cursor" in cursors.get(g.name, {})
        ]
        if known:
            try:
                yield from _apply_account_events(
                    account, min(known), selected, writer, tombstones, report, options
                )
            except (stripe.StripeError, KeyRejectedError, PermissionDeniedError) as error:
                # the cursors stay put, so the next run reads these events again
                failure = Failure(EVENT_MODEL, account.account_id, error)
                _record_failure(failure, account, report)
                report.mark(
                    "Event",
                    account.account_id,
                    account.key.masked,
                    Outcome.FAILED,
                    str(error)[:200],
                )
                continue
        for group in groups:
            if group.name in cursors:
                cursors[group.name]["event_cursor"] = account.server_time
    _save_tombstones(EVENTS_RESOURCE, tombstones)


def _apply_account_events(
    account: StripeAccount,
    event_cursor: float,
    selected: set[str],
    writer: TableWriter,
    tombstones: list[Tombstone],
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[Any]:
    oldest_served = account.server_time - EVENT_RETENTION_SECONDS
    if event_cursor < oldest_served + EVENT_MARGIN_SECONDS:
        logger.warning(
            "account %s was last synced %s; Stripe keeps events for 30 days, so its models are "
            "listed in full again this run",
            account.account_id,
            datetime.fromtimestamp(event_cursor, UTC).isoformat(timespec="seconds"),
        )
    since = int(max(event_cursor - OVERLAP_SECONDS, oldest_served + 60))

    pages = _list_events(account, since, report)
    plan = plan_events(pages, selected, stripe.api_version)
    events = sum(len(page) for page in pages)
    report.add_page("Event", account.account_id, account.key.masked, events)

    upserts = _newer_only(options.reader, account.account_id, plan.upserts)
    deletes = _newer_only(options.reader, account.account_id, plan.deletes)

    for change in upserts:
        yield writer.mark(change.model, [_change_row(change, account)])
        yield from _embedded_children(change, selected, account, writer, tombstones)
    for change in deletes:
        row = make_row(
            change.obj,
            change.model,
            account.account_id,
            change.version,
            change.parent_id,
            deleted_at=None if options.hard_deletes else change.version,
        )
        if options.hard_deletes:
            row["_deleted"] = True
        yield writer.mark(change.model, [row])
        for child in children_of(change.model):
            if child.name in selected:
                tombstones.append(
                    Tombstone.children(
                        child.table, account.account_id, change.obj["id"], change.version
                    )
                )

    yield from _fetch_again(
        plan.refetch, plan.relist_children, selected, account, writer, tombstones, report
    )
    logger.info(
        "account %s: %d events since %s, %d upserts, %d deletions, %d fetched again",
        account.account_id,
        events,
        datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
        len(upserts),
        len(deletes),
        len(plan.refetch),
    )


def _list_events(
    account: StripeAccount, since: int, report: SyncReport
) -> list[list[dict[str, Any]]]:
    """Event pages since `since`, each newest first as Stripe lists them."""
    group = TaskGroup()
    ModelLister(
        account.api,
        account.pool,
        account.account_id,
        EVENT_MODEL,
        group,
        created_since=since,
        lower_bound=since,
    ).start()
    pages: list[list[dict[str, Any]]] = []
    for item in group.results():
        if isinstance(item, Failure):
            raise item.error
        pages.append(item.objects)
    stats = account.api.stats
    report.finish(
        "Event",
        account.account_id,
        account.key.masked,
        stats.requests["Event"],
        stats.retries["Event"],
    )
    return pages


def _newer_only(
    reader: DestinationReader | None, account_id: str, changes: list[Change]
) -> list[Change]:
    """Drop changes older than the row already loaded: a row never goes back in time."""
    if reader is None:
        return changes
    by_table: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_table[change.model.table].append(change)
    kept = []
    for table, table_changes in by_table.items():
        loaded = reader.versions(table, account_id, [c.obj["id"] for c in table_changes])
        kept += [c for c in table_changes if c.version >= loaded.get(c.obj["id"], 0)]
    return kept


def _change_row(change: Change, account: StripeAccount) -> dict[str, Any]:
    return make_row(change.obj, change.model, account.account_id, change.version, change.parent_id)


def _embedded_children(
    change: Change,
    selected: set[str],
    account: StripeAccount,
    writer: TableWriter,
    tombstones: list[Tombstone],
) -> Iterator[Any]:
    """Children a complete snapshot embeds; the parent's other children were removed."""
    for child in children_of(change.model):
        if child.name not in selected or child.embedded is None or child.embedded_on_expand:
            continue
        embedded = change.obj.get(child.embedded)
        if not isinstance(embedded, dict):
            continue
        items = [item for item in embedded["data"] if item.get("object") == child.object]
        rows = [
            make_row(item, child, account.account_id, change.version, change.obj["id"])
            for item in items
        ]
        if rows:
            yield writer.mark(child, rows)
        tombstones.append(
            Tombstone.children(
                child.table,
                account.account_id,
                change.obj["id"],
                change.version,
                keep=[item["id"] for item in items],
            )
        )


def _fetch_again(
    refetch: list[Change],
    relist: list[tuple[Change, Model]],
    selected: set[str],
    account: StripeAccount,
    writer: TableWriter,
    tombstones: list[Tombstone],
    report: SyncReport,
) -> Iterator[Any]:
    """Retrieve objects whose snapshot cannot be used, and list children Stripe does not embed.

    Everything runs on the key's thread pool under its rate limiter; children of a fetched
    parent are completed from its sub-lists exactly as a full listing does.
    """
    group = TaskGroup()
    for change in refetch:
        lister = _lister_for(change.model, selected, account, group)
        group.submit(account.pool, _RetrieveTask(change, lister, account))
    for change, child in relist:
        lister = _lister_for(change.model, selected, account, group)
        group.submit(
            account.pool, _ListChildrenTask(child, account.account_id, lister, change.obj["id"])
        )

    children_seen: dict[tuple[Model, str], set[str]] = defaultdict(set)
    versions_seen: dict[tuple[Model, str], float] = {}
    for item in group.results():
        if isinstance(item, Failure):
            _record_failure(item, account, report)
            continue
        report.add_page(item.model.name, item.account_id, account.key.masked, len(item.objects))
        if item.parent_id is not None:
            key = (item.model, item.parent_id)
            children_seen[key].update(obj["id"] for obj in item.objects)
            versions_seen[key] = max(versions_seen.get(key, 0), item.version)
        yield writer.mark(item.model, to_rows(item))

    for (child, parent_id), ids in children_seen.items():
        tombstones.append(
            Tombstone.children(
                child.table,
                account.account_id,
                parent_id,
                versions_seen[(child, parent_id)],
                keep=sorted(ids),
            )
        )


def _lister_for(
    model: Model, selected: set[str], account: StripeAccount, group: TaskGroup
) -> ModelLister:
    return ModelLister(
        account.api,
        account.pool,
        account.account_id,
        model,
        group,
        selected_children(model, selected),
    )


@dataclass
class _RetrieveTask:
    """Retrieve one object (with the sub-lists Stripe only shows when expanded) and its children."""

    change: Change
    lister: ModelLister
    account: StripeAccount

    @property
    def model(self) -> Model:
        return self.change.model

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def __call__(self) -> None:
        model, obj = self.change.model, self.change.obj
        path = f"{model.list_path(self.change.parent_id)}/{obj['id']}"
        expand = [c.embedded for c in self.lister.children if c.embedded_on_expand]
        response = self.account.api.request(
            path, {"expand": expand} if expand else None, model=model.name
        )
        fetched = response.data
        if fetched.get("deleted"):
            return
        self.lister.group.put(
            Batch(model, self.account_id, [fetched], response.served_at, self.change.parent_id)
        )
        for child in self.lister.children:
            self.lister.complete_children(fetched, child, response.served_at)


@dataclass
class _ListChildrenTask:
    model: Model
    account_id: str
    lister: ModelLister
    parent_id: str

    def __call__(self) -> None:
        self.lister.list_children(self.parent_id, self.model)


def _record_failure(failure: Failure, account: StripeAccount, report: SyncReport) -> None:
    name, masked = failure.model.name, account.key.masked
    error = failure.error
    if isinstance(error, PermissionDeniedError):
        logger.warning(
            "key %s cannot read %s; grant it read access or leave the model out", masked, name
        )
        report.mark(name, failure.account_id, masked, Outcome.SKIPPED, "no permission (403)")
    elif isinstance(error, KeyRejectedError):
        logger.error("%s", error)
        report.reject_key(masked, str(error))
        report.mark(name, failure.account_id, masked, Outcome.FAILED, "key rejected (401)")
    else:
        logger.error("listing %s for %s failed: %s", name, failure.account_id, error)
        logger.debug("listing %s failed", name, exc_info=error)
        report.mark(name, failure.account_id, masked, Outcome.FAILED, str(error)[:200])
