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
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dlt
import stripe
from dlt.extract.resource import DltResource

from stripe_source.accounts import StripeAccount, connect_accounts
from stripe_source.api import DEFAULT_API_BASE, KeyRejectedError, PermissionDeniedError
from stripe_source.apply import ChangeApplier
from stripe_source.catalog import MODELS, Model
from stripe_source.changes import plan_events, selected_names
from stripe_source.destination import DestinationReader, Tombstone, save_tombstones
from stripe_source.events import EVENT_RETENTION_SECONDS, list_events, oldest_served
from stripe_source.fetch import Failure, ModelLister, TaskGroup, selected_children
from stripe_source.keys import parse_key
from stripe_source.report import Outcome, SyncReport
from stripe_source.rows import MERGE_KEY, SyncOptions, TableWriter, table_columns, to_rows
from stripe_source.schema import has_created_time

logger = logging.getLogger(__name__)

OVERLAP_SECONDS = 300
EVENT_MARGIN_SECONDS = 86_400
EVENTS_RESOURCE = "stripe_events"


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
        since = None if relist or not cursor else int(cursor["created_cursor"]) - OVERLAP_SECONDS
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
            report.record_failure(item.model.name, item.account_id, account.key.masked, item.error)
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
    save_tombstones(parent.table, tombstones)
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
            applier = ChangeApplier(account, selected, writer, options, report, tombstones)
            try:
                yield from _apply_account_events(applier, min(known))
            except (stripe.StripeError, KeyRejectedError, PermissionDeniedError) as error:
                # the cursors stay put, so the next run reads these events again
                masked = account.key.masked
                report.record_failure("Event", account.account_id, masked, error)
                report.mark("Event", account.account_id, masked, Outcome.FAILED, str(error)[:200])
                continue
        for group in groups:
            if group.name in cursors:
                cursors[group.name]["event_cursor"] = account.server_time
    save_tombstones(EVENTS_RESOURCE, tombstones)


def _apply_account_events(applier: ChangeApplier, event_cursor: float) -> Iterator[Any]:
    account = applier.account
    oldest = oldest_served(account)
    if event_cursor < oldest + EVENT_MARGIN_SECONDS:
        logger.warning(
            "account %s was last synced %s; Stripe keeps events for 30 days, so its models are "
            "listed in full again this run",
            account.account_id,
            datetime.fromtimestamp(event_cursor, UTC).isoformat(timespec="seconds"),
        )
    since = int(max(event_cursor - OVERLAP_SECONDS, oldest + 60))

    pages = list_events(account, applier.report, since=since)
    plan = plan_events(pages, applier.selected, stripe.api_version)
    yield from applier.apply(plan)

    logger.info(
        "account %s: %d events since %s, %d upserts, %d deletions, %d fetched again",
        account.account_id,
        sum(len(page) for page in pages),
        datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
        len(plan.upserts),
        len(plan.deletes),
        len(plan.refetch),
    )
