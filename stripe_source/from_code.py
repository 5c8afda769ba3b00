"""Syncing objects from code: load what the Stripe SDK just returned, without waiting for events.

After writing to Stripe (creating a product, updating a subscription), code can hand the objects
it got back to `sync_from_stripe_data`, the way dj-stripe's `Model.sync_from_stripe_data` is used.
Each object goes to its model's table, routed by its `object` type, with the incremental sync's
rules: `_account_id` set, sub-lists completed past the 10 items Stripe embeds, children Stripe
does not embed listed, expanded fields folded back into ids, and newer wins, so an object older
than its row (an event applied meanwhile) changes nothing.

An object's version is the `Date` of the response it came in when the SDK kept it; a plain dict
counts as current when the call is made, so pass objects just returned by Stripe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dlt
import stripe
from dlt.common.pipeline import LoadInfo
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from stripe_source.accounts import StripeAccount
from stripe_source.api import served_at_of
from stripe_source.apply import ChangeApplier
from stripe_source.catalog import MODELS, Model, children_of
from stripe_source.changes import (
    Change,
    EventPlan,
    Status,
    add_snapshot,
    parent_id_of,
    selected_names,
)
from stripe_source.config import BadInputError, configured_api_base, configured_keys
from stripe_source.destination import DestinationReader, Tombstone, save_tombstones
from stripe_source.keys import ApiKey, parse_key
from stripe_source.report import SyncReport
from stripe_source.rows import SyncOptions, TableWriter
from stripe_source.runner import DEFAULT_DUCKDB_FILE, make_pipeline, run_source
from stripe_source.schema import expandable_fields

logger = logging.getLogger(__name__)

Obj = dict[str, Any]
StripeData = stripe.StripeObject | Mapping[str, Any]
WRITER = "synced_from_code"


class UnknownObjectError(ValueError):
    """An object the catalog has no table for, or one that cannot be placed on its own."""


@dataclass(frozen=True)
class _Handed:
    """An object handed over by code, as a dict, with the time Stripe served it if known."""

    model: Model
    obj: Obj
    served_at: float | None


@dataclass
class SyncedObjects:
    """What became of each object, by id: applied, superseded (its row was newer) or failed."""

    status: dict[str, Status] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    report: SyncReport | None = None
    load_info: LoadInfo | None = None

    @property
    def failed(self) -> bool:
        return any(status is Status.FAILED for status in self.status.values()) or bool(
            self.report and self.report.failed
        )


def sync_from_stripe_data(
    data: StripeData | Iterable[StripeData],
    *,
    api_key: str | None = None,
    pipeline: dlt.Pipeline | None = None,
    api_base: str | None = None,
    hard_deletes: bool = False,
) -> SyncedObjects:
    """Load Stripe objects into their tables now.

    Args:
        data: one object or many (an SDK list too), as the SDK returns them or as plain dicts;
            a deleted object (`{"id": …, "deleted": true}`) marks its row deleted (or
            removes it, with hard deletes) and its children's.
        api_key: the key of the account the objects belong to; by default the one configured
            key. It names the account (`_account_id`) and reads the children Stripe leaves out.
        pipeline: where to load; by default the CLI's (`stripe_sync.duckdb`, dataset `stripe`).
        api_base: a Stripe-compatible server; by default the configured one, or Stripe.
        hard_deletes: remove the rows of deleted objects instead of marking them.

    Returns:
        The outcome per object id; `failed` says whether any object could not be completed.

    Raises:
        UnknownObjectError: an object's type has no table in the catalog; nothing is loaded.
        BadInputError: no key, or several, and none chosen with `api_key`.
    """
    handed = [_handed(item) for item in _items(data)]
    key = parse_key(api_key) if api_key else _only_configured_key()
    pipeline = pipeline or make_pipeline("duckdb", "stripe", duckdb_file=DEFAULT_DUCKDB_FILE)
    result = SyncedObjects()

    def make_source(
        accounts: list[StripeAccount], report: SyncReport, reader: DestinationReader
    ) -> DltSource:
        options = SyncOptions(hard_deletes=hard_deletes, reader=reader)
        return objects_source(accounts[0], handed, result, report, options)

    synced = run_source(
        pipeline,
        [key],
        make_source,
        api_base=configured_api_base(api_base),
        hard_deletes=hard_deletes,
        show_progress=False,
    )
    result.report, result.load_info = synced.report, synced.load_info
    for object_id, error in result.errors.items():
        logger.error("syncing %s failed: %s", object_id, error)
    return result


@dlt.source(name="stripe", section="stripe_source", max_table_nesting=2)
def objects_source(
    account: StripeAccount,
    handed: list[_Handed],
    result: SyncedObjects,
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[DltResource]:
    """The objects' rows, and their children's, in the same schema as `stripe_source`."""
    yield dlt.resource(_object_rows(account, handed, result, report, options), name=WRITER)


def _object_rows(
    account: StripeAccount,
    handed: list[_Handed],
    result: SyncedObjects,
    report: SyncReport,
    options: SyncOptions,
) -> Iterator[Any]:
    selected = selected_names(None)
    plan = EventPlan()
    tombstones: list[Tombstone] = []
    for item in handed:
        version = item.served_at or account.server_time
        parent_id = parent_id_of(item.model, item.obj)
        change = Change(item.model, item.obj, version, parent_id, item.obj["id"])
        if item.obj.get("deleted"):
            # Stripe answers a deletion with only the id: mark the row rather than blank it
            tombstones += _deleted(change, account.account_id, selected)
            result.status[item.obj["id"]] = Status.APPLIED
            continue
        add_snapshot(plan, change, selected, None, stripe.api_version)
        for child in children_of(item.model):
            if child.embedded is None:
                plan.relist_children.append((change, child))

    applier = ChangeApplier(
        account, selected, TableWriter(None, options), options, report, tombstones
    )
    yield from applier.apply(plan)
    save_tombstones(WRITER, tombstones)
    result.status.update(applier.outcomes.status)
    result.errors.update(applier.outcomes.errors)


def _deleted(change: Change, account_id: str, selected: set[str]) -> list[Tombstone]:
    """The deleted object's row and its children's, marked once the load is done."""
    model, object_id = change.model, change.obj["id"]
    tombstones = [Tombstone(model.table, account_id, (object_id,), change.version)]
    for child in children_of(model):
        if child.name in selected:
            tombstones.append(
                Tombstone.children(child.table, account_id, object_id, change.version)
            )
    return tombstones


def _items(data: StripeData | Iterable[StripeData]) -> Iterator[StripeData]:
    """One object, a list of them, or an SDK list object (its page of `data`)."""
    if isinstance(data, stripe.ListObject):
        yield from data.data
    elif isinstance(data, stripe.StripeObject | Mapping):
        yield data
    else:
        yield from data


def _handed(item: StripeData) -> _Handed:
    served_at = None
    if isinstance(item, stripe.StripeObject):
        if item.last_response is not None:
            served_at = served_at_of(item.last_response.headers)
        obj = item.to_dict(recursive=True, for_json=True)
    else:
        obj = dict(item)
    model = _model_of(obj)
    for name in expandable_fields(model):
        value = obj.get(name)
        if isinstance(value, Mapping) and "id" in value:
            obj[name] = value["id"]
    return _Handed(model, obj, served_at)


def _model_of(obj: Obj) -> Model:
    """The catalog model of an object, by its `object` type."""
    kind = obj.get("object")
    matches = [model for model in MODELS if model.object == kind]
    if not matches or "id" not in obj:
        raise UnknownObjectError(
            f"cannot sync an object of type {kind!r}: the catalog has no table for it; "
            "`stripe-sync models` lists the object types it has"
        )
    placed = [model for model in matches if not model.is_child or model.parent_field]
    if len(placed) != 1:
        parents = ", ".join(sorted({model.parent or "" for model in matches}))
        raise UnknownObjectError(
            f"an object of type {kind!r} does not say which {parents} it belongs to; "
            "sync its parent instead, which brings its line items with it"
        )
    return placed[0]


def _only_configured_key() -> ApiKey:
    keys = configured_keys()
    if len(keys) != 1:
        raise BadInputError(
            f"{len(keys)} keys are configured; pass api_key= to say which account the objects "
            "belong to"
        )
    return keys[0]
