"""The dlt source: one resource per Stripe model, for one or many API keys.

Stripe has no `updated` field and lists filter only on `created`, so a full sync lists every
object of every selected model. Each table merges on (`id`, `_account_id`), which makes running it
again, or after a run was killed, converge to the same rows without duplicates.

Models Stripe lists only under a parent (invoice lines, subscription items, ...) load through their
parent's resource, which already holds their first 10 items embedded: they land in their own
table with a `_parent_id` column, and the parent's row does not repeat them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dlt
import stripe
from dlt.extract.resource import DltResource

from stripe_source.accounts import StripeAccount, connect_accounts
from stripe_source.api import DEFAULT_API_BASE, KeyRejectedError, PermissionDeniedError
from stripe_source.catalog import MODELS, MODELS_BY_NAME, Model
from stripe_source.fetch import Batch, Failure, ModelLister, TaskGroup, selected_children
from stripe_source.keys import parse_key
from stripe_source.report import Outcome, SyncReport
from stripe_source.schema import column_hints, embedded_fields

logger = logging.getLogger(__name__)

MERGE_KEY = ("id", "_account_id")


@dlt.source(name="stripe", section="stripe_source", max_table_nesting=2)
def stripe_source(
    api_keys: Sequence[str] = dlt.secrets.value,
    models: Sequence[str] | None = None,
    api_base: str = DEFAULT_API_BASE,
    rate_limit: float | None = None,
    accounts: list[StripeAccount] | None = None,
    report: SyncReport | None = None,
) -> Iterator[DltResource]:
    """Every selected model of every account the keys read.

    Args:
        api_keys: secret or restricted keys; each may belong to a different account.
        models: catalog model names; all models when empty.
        api_base: any Stripe-compatible server (the emulator, localstripe, stripe-mock).
        rate_limit: requests per second per key; Stripe's 25 (test) or 100 (live) when unset.
        accounts: already connected accounts, when the caller owns their threads.
        report: collects rows, requests and failures for the run summary.
    """
    report = report if report is not None else SyncReport()
    if accounts is None:
        keys = [parse_key(key) for key in api_keys]
        accounts = connect_accounts(keys, api_base=api_base, rate_limit=rate_limit, report=report)
    dlt.current.source_state()["api_version"] = stripe.api_version

    selected = {MODELS_BY_NAME[name].name for name in models} if models else set(MODELS_BY_NAME)
    for model in MODELS:
        if model.is_child:
            continue
        children = selected_children(model, selected)
        if model.name in selected or children:
            yield _model_resource(model, children, model.name in selected, accounts, report)


def _model_resource(
    parent: Model,
    children: tuple[Model, ...],
    keep_parent: bool,
    accounts: list[StripeAccount],
    report: SyncReport,
) -> DltResource:
    rows = _model_rows(parent, children, keep_parent, accounts, report)
    return dlt.resource(
        rows,
        name=parent.table,
        primary_key=MERGE_KEY,
        write_disposition="merge",
        columns=column_hints(parent),
        parallelized=True,
    )


def _model_rows(
    parent: Model,
    children: tuple[Model, ...],
    keep_parent: bool,
    accounts: list[StripeAccount],
    report: SyncReport,
) -> Iterator[Any]:
    group = TaskGroup()
    for account in accounts:
        ModelLister(
            account.api,
            account.pool,
            account.account_id,
            parent,
            group,
            children,
            lower_bound=account.created,
        ).start()

    by_id = {account.account_id: account for account in accounts}
    hinted: set[str] = set()
    for item in group.results():
        account = by_id[item.account_id]
        if isinstance(item, Failure):
            _record_failure(item, account, report)
            continue
        report.add_page(item.model.name, item.account_id, account.key.masked, len(item.objects))
        if item.model is parent and not keep_parent:
            continue
        rows = to_rows(item)
        if item.model is parent:
            yield rows
        elif item.model.table in hinted:
            yield dlt.mark.with_table_name(rows, item.model.table)
        else:
            hinted.add(item.model.table)
            yield dlt.mark.with_hints(
                rows, child_table_hints(item.model), create_table_variant=True
            )

    for account in accounts:
        for model in (parent, *children):
            stats = account.api.stats
            report.finish(
                model.name,
                account.account_id,
                account.key.masked,
                stats.requests[model.name],
                stats.retries[model.name],
            )


def child_table_hints(child: Model) -> Any:
    return dlt.mark.make_hints(
        table_name=child.table,
        primary_key=MERGE_KEY,
        write_disposition="merge",
        columns={**column_hints(child), "_parent_id": {"name": "_parent_id", "data_type": "text"}},
    )


def to_rows(batch: Batch) -> list[dict[str, Any]]:
    """Stripe objects as rows: sub-lists dropped (they have tables), account and parent added."""
    dropped = embedded_fields(batch.model)
    fetched_at = datetime.fromtimestamp(time.time(), UTC)
    rows = []
    for obj in batch.objects:
        row = {key: value for key, value in obj.items() if key not in dropped}
        row["_account_id"] = batch.account_id
        row["_updated_at"] = fetched_at
        if batch.parent_id is not None:
            row["_parent_id"] = batch.parent_id
        rows.append(row)
    return rows


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
