"""Applying changes to the model tables of one account.

Changes come from events (the incremental sync and `process-events`) and from objects handed over
by code (`sync_from_stripe_data`). The same rules hold for all of them:

- newer wins: a change older than the row already loaded is dropped, so a replayed event never
  takes a row back in time;
- a snapshot is loaded as is, with the children it embeds; children it no longer embeds are gone
  (Stripe sends no event for a subscription item removed from its subscription);
- a deletion marks the object deleted (or, with hard deletes, removes it), and its children too;
- an object whose snapshot cannot be used (another API version, a truncated sub-list) is retrieved
  again, and children Stripe does not embed are listed again, on the key's threads under its rate
  limit.

Every change names its source (an event id, or an object id). `Outcomes` says per source whether
it was applied, superseded by a newer row, or failed and why, so one bad event never stops the
others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stripe_source.accounts import StripeAccount
from stripe_source.catalog import Model, children_of
from stripe_source.changes import Change, EventPlan, Status
from stripe_source.destination import DestinationReader, Tombstone
from stripe_source.fetch import Batch, Failure, ModelLister, TaskGroup, selected_children
from stripe_source.report import SyncReport
from stripe_source.rows import SyncOptions, TableWriter, deleted_row, make_row, to_rows


@dataclass
class Outcomes:
    """The status of each source of changes, and the error of each one that failed."""

    status: dict[str, Status] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    def set(self, source: str | None, status: Status) -> None:
        if source is not None and self.status.get(source) is not Status.FAILED:
            self.status[source] = status

    def fail(self, source: str | None, error: BaseException) -> None:
        if source is not None:
            self.status[source] = Status.FAILED
            self.errors[source] = error

    @property
    def failed(self) -> bool:
        return any(status is Status.FAILED for status in self.status.values())


@dataclass
class ChangeApplier:
    """Turns the changes of one account into rows for their tables, and tombstones for rows
    that must go once the load is done."""

    account: StripeAccount
    selected: set[str]
    writer: TableWriter
    options: SyncOptions
    report: SyncReport
    tombstones: list[Tombstone] = field(default_factory=list)
    outcomes: Outcomes = field(default_factory=Outcomes)

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def apply(self, plan: EventPlan) -> Iterator[Any]:
        for source, status in plan.outcomes.items():
            self.outcomes.set(source, status)
        relisted = [change for change, _ in plan.relist_children]
        newer = self._newer_only([*plan.upserts, *plan.deletes, *plan.refetch, *relisted])
        kept = {id(change) for change in newer}

        for change in plan.upserts:
            if id(change) not in kept:
                continue
            row = make_row(
                change.obj, change.model, self.account_id, change.version, change.parent_id
            )
            yield self.writer.mark(change.model, [row])
            yield from self._embedded_children(change)
            self.outcomes.set(change.source, Status.APPLIED)

        for change in plan.deletes:
            if id(change) not in kept:
                continue
            row = deleted_row(
                change.obj,
                change.model,
                self.account_id,
                change.version,
                change.parent_id,
                self.options,
            )
            yield self.writer.mark(change.model, [row])
            for child in children_of(change.model):
                if child.name in self.selected:
                    self.tombstones.append(
                        Tombstone.children(
                            child.table, self.account_id, change.obj["id"], change.version
                        )
                    )
            self.outcomes.set(change.source, Status.APPLIED)

        yield from self._fetch_again(
            [change for change in plan.refetch if id(change) in kept],
            [(change, child) for change, child in plan.relist_children if id(change) in kept],
        )

    def _newer_only(self, changes: list[Change]) -> list[Change]:
        """Drop changes older than the row already loaded: a row never goes back in time.

        This holds for objects to fetch again and children to list again too: a row newer than
        the event was read from Stripe after it, with its children, so it already holds what the
        event says, and fetching it again would only move its `_updated_at`.
        """
        reader: DestinationReader | None = self.options.reader
        if reader is None:
            return changes
        by_table: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_table[change.model.table].append(change)
        kept = []
        for table, table_changes in by_table.items():
            ids = sorted({c.obj["id"] for c in table_changes})
            loaded = reader.versions(table, self.account_id, ids)
            for change in table_changes:
                if change.version >= loaded.get(change.obj["id"], 0):
                    kept.append(change)
                else:
                    self.outcomes.set(change.source, Status.SUPERSEDED)
        return kept

    def _embedded_children(self, change: Change) -> Iterator[Any]:
        """Children a complete snapshot embeds; the parent's other children were removed."""
        for child in children_of(change.model):
            if child.name not in self.selected or child.embedded is None:
                continue
            if child.embedded_on_expand:
                continue
            embedded = change.obj.get(child.embedded)
            if not isinstance(embedded, dict):
                continue
            items = [item for item in embedded["data"] if item.get("object") == child.object]
            rows = [
                make_row(item, child, self.account_id, change.version, change.obj["id"])
                for item in items
            ]
            if rows:
                yield self.writer.mark(child, rows)
            self.tombstones.append(
                Tombstone.children(
                    child.table,
                    self.account_id,
                    change.obj["id"],
                    change.version,
                    keep=[item["id"] for item in items],
                )
            )

    def _fetch_again(
        self, refetch: list[Change], relist: list[tuple[Change, Model]]
    ) -> Iterator[Any]:
        """Retrieve objects whose snapshot cannot be used, and list children Stripe does not
        embed; children of a fetched parent are completed from its sub-lists as a full listing
        does. Each task works for one change, so a failure is that change's alone."""
        account = self.account
        group = TaskGroup()
        for change in refetch:
            self.outcomes.set(change.source, Status.APPLIED)
            group.submit(account.pool, _RetrieveTask(change, self._lister(change.model, group)))
        for change, child in relist:
            self.outcomes.set(change.source, Status.APPLIED)
            lister = self._lister(change.model, group)
            group.submit(account.pool, _ListChildrenTask(change, child, lister))

        children_seen: dict[tuple[Model, str], set[str]] = defaultdict(set)
        versions_seen: dict[tuple[Model, str], float] = {}
        for item in group.results():
            if isinstance(item, Failure):
                self._record_failure(item)
                continue
            self.report.add_page(
                item.model.name, item.account_id, account.key.masked, len(item.objects)
            )
            if item.parent_id is not None:
                key = (item.model, item.parent_id)
                children_seen[key].update(obj["id"] for obj in item.objects)
                versions_seen[key] = max(versions_seen.get(key, 0), item.version)
            yield self.writer.mark(item.model, to_rows(item))

        for (child, parent_id), ids in children_seen.items():
            self.tombstones.append(
                Tombstone.children(
                    child.table,
                    self.account_id,
                    parent_id,
                    versions_seen[(child, parent_id)],
                    keep=sorted(ids),
                )
            )

    def _lister(self, model: Model, group: TaskGroup) -> ModelLister:
        account = self.account
        return ModelLister(
            account.api,
            account.pool,
            account.account_id,
            model,
            group,
            selected_children(model, self.selected),
        )

    def _record_failure(self, failure: Failure) -> None:
        self.outcomes.fail(failure.source, failure.error)
        self.report.record_failure(
            failure.model.name, failure.account_id, self.account.key.masked, failure.error
        )


@dataclass
class _RetrieveTask:
    """Retrieve one object (with the sub-lists Stripe only shows when expanded) and complete its
    children on the same thread."""

    change: Change
    lister: ModelLister

    @property
    def model(self) -> Model:
        return self.change.model

    @property
    def account_id(self) -> str:
        return self.lister.account_id

    @property
    def source(self) -> str | None:
        return self.change.source

    def __call__(self) -> None:
        model, obj = self.change.model, self.change.obj
        path = f"{model.list_path(self.change.parent_id)}/{obj['id']}"
        expand = [c.embedded for c in self.lister.children if c.embedded_on_expand]
        response = self.lister.api.request(
            path, {"expand": expand} if expand else None, model=model.name
        )
        fetched = response.data
        if fetched.get("deleted"):
            return
        self.lister.group.put(
            Batch(model, self.account_id, [fetched], response.served_at, self.change.parent_id)
        )
        for child in self.lister.children:
            self.lister.complete_children(fetched, child, response.served_at, inline=True)


@dataclass
class _ListChildrenTask:
    """List again the children of a changed parent that Stripe does not embed in it."""

    change: Change
    model: Model
    lister: ModelLister

    @property
    def account_id(self) -> str:
        return self.lister.account_id

    @property
    def source(self) -> str | None:
        return self.change.source

    def __call__(self) -> None:
        self.lister.list_children(self.change.obj["id"], self.model)
