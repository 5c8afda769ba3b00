"""What the sync needs to know about, and do to, rows already in the destination.

Two things cannot be said through dlt's merge alone:

- newer wins: a merge replaces a row by whatever arrives, so an event older than the row (seen
  again in an overlap window, or replayed) must be dropped before it is loaded. `versions` reads
  the `_updated_at` of the rows an event batch touches.
- deletions Stripe never announces: a subscription item removed from its subscription, the lines
  of a deleted draft invoice, an object gone when a model is listed again after the 30-day event
  window. These become tombstones, applied in SQL after the load. Each carries the time it was
  learned and only touches rows not updated since, so applying one twice, or late, is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseTerminalException, DatabaseUndefinedRelation

logger = logging.getLogger(__name__)

CHUNK = 500


@dataclass(frozen=True)
class Tombstone:
    """Rows of `table` in `account_id` that no longer exist on Stripe as of `at`.

    `ids` names the rows; with `by_parent`, `ids` are parent ids and every child of them goes,
    except `keep` (the children a parent still has).
    """

    table: str
    account_id: str
    ids: tuple[str, ...]
    at: float
    by_parent: bool = False
    keep: tuple[str, ...] = ()

    @classmethod
    def children(
        cls, table: str, account_id: str, parent_id: str, at: float, keep: Sequence[str] = ()
    ) -> Tombstone:
        """Every child of `parent_id` in `table` except `keep`."""
        return cls(table, account_id, (parent_id,), at, by_parent=True, keep=tuple(keep))

    def to_state(self) -> dict[str, Any]:
        return {**asdict(self), "ids": list(self.ids), "keep": list(self.keep)}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> Tombstone:
        return cls(**{**saved, "ids": tuple(saved["ids"]), "keep": tuple(saved["keep"])})


def save_tombstones(writer: str, tombstones: list[Tombstone]) -> None:
    """Keep a resource's tombstones in the source state, committed with the rows they follow:
    if the run dies after loading, the next run applies them before doing anything else."""
    state = dlt.current.source_state()
    state.setdefault("tombstones", {})[writer] = [t.to_state() for t in tombstones]


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class DestinationReader:
    """Reads rows of the destination while a run extracts, from any thread.

    The client is opened on the thread that creates the reader: dlt injects its configuration
    when a client is made, which must not happen on the extraction threads. Queries are
    serialized, since one database connection is shared.
    """

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self._client = pipeline.sql_client()
        self._client.open_connection()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close_connection()

    def _rows(self, table: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            qualified = self._client.make_qualified_table_name(table)
            try:
                with self._client.execute_query(sql.format(table=qualified), *args) as cursor:
                    return list(cursor.fetchall())
            except (DatabaseUndefinedRelation, DatabaseTerminalException):
                return []

    def versions(self, table: str, account_id: str, ids: Sequence[str]) -> dict[str, float]:
        """`_updated_at` (unix seconds) of the rows among `ids` that the destination holds."""
        found: dict[str, float] = {}
        for chunk in _chunks(list(ids)):
            marks = ", ".join(["%s"] * len(chunk))
            sql = (
                f"select id, _updated_at from {{table}} where _account_id = %s and id in ({marks})"
            )
            for row_id, updated_at in self._rows(table, sql, account_id, *chunk):
                if updated_at is not None:
                    found[row_id] = _as_unix(updated_at)
        return found

    def live_ids(self, table: str, account_id: str) -> set[str]:
        """Ids of the rows of an account not marked deleted."""
        sql = (
            "select id from {table} where _account_id = %s "
            "and (is_deleted is null or not is_deleted)"
        )
        return {row[0] for row in self._rows(table, sql, account_id)}


def apply_tombstones(
    pipeline: dlt.Pipeline, tombstones: Iterable[Tombstone], *, hard_deletes: bool
) -> None:
    """Mark (or with hard deletes, remove) the rows the tombstones name."""
    tombstones = list(tombstones)
    if not tombstones or not pipeline.default_schema_name:
        return
    with pipeline.sql_client() as client:
        for tombstone in tombstones:
            if tombstone.table not in pipeline.default_schema.tables:
                continue
            qualified = client.make_qualified_table_name(tombstone.table)
            at = datetime.fromtimestamp(tombstone.at, UTC)
            key = "_parent_id" if tombstone.by_parent else "id"
            for chunk in _chunks(list(tombstone.ids)):
                marks = ", ".join(["%s"] * len(chunk))
                where = f"_account_id = %s and {key} in ({marks}) and _updated_at <= %s"
                args: list[Any] = [tombstone.account_id, *chunk, at]
                if tombstone.keep:
                    where += f" and id not in ({', '.join(['%s'] * len(tombstone.keep))})"
                    args += list(tombstone.keep)
                if hard_deletes:
                    sql = f"delete from {qualified} where {where}"
                else:
                    sql = (
                        f"update {qualified} set is_deleted = true, deleted_at = %s, "
                        f"_updated_at = %s where {where} and not coalesce(is_deleted, false)"
                    )
                    args = [at, at, *args]
                try:
                    client.execute_sql(sql, *args)
                except DatabaseUndefinedRelation:
                    # the database was reset behind the pipeline's back: no rows to mark
                    break


def _as_unix(value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)
