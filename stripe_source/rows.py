"""Table shape: how a Stripe object becomes a row, and the hints every writer of a table shares.

Each table merges on (`id`, `_account_id`) and keeps, per key, the version with the newest
`_updated_at` (the event time, or Stripe's clock when the object was fetched). A model's table is
written by its own resource, by the events pass and by code syncing objects it just wrote, so
all of them give the same hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dlt

from stripe_source.catalog import Model
from stripe_source.schema import column_hints, embedded_fields

if TYPE_CHECKING:
    from stripe_source.destination import DestinationReader
    from stripe_source.fetch import Batch

MERGE_KEY = ("id", "_account_id")


@dataclass(frozen=True)
class SyncOptions:
    incremental: bool = False
    hard_deletes: bool = False
    reader: DestinationReader | None = None


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


def deleted_row(
    obj: dict[str, Any],
    model: Model,
    account_id: str,
    version: float,
    parent_id: str | None,
    options: SyncOptions,
) -> dict[str, Any]:
    """The row of a deleted object: marked deleted, or flagged for dlt to remove it."""
    if not options.hard_deletes:
        return make_row(obj, model, account_id, version, parent_id, deleted_at=version)
    row = make_row(obj, model, account_id, version, parent_id)
    row["_deleted"] = True
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
