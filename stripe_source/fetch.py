"""Listing a model as fast as the rate limit allows: `created` partitions and completed sub-lists.

Stripe lists newest first and pages are sequential (each needs the previous page's last id), so a
single cursor is bound by latency: at 300 ms a page, about 3 pages a second against a budget of 25.
Models that accept `created` filters are therefore split into time ranges paged in parallel,
by bisecting whatever range still holds several pages while the key has threads to spare. All
ranges of all models of a key run on one thread pool and one rate limiter, so the request rate
sits at the key's limit without splitting more than the latency requires.

Children are completed here too. Stripe embeds at most 10 children in a parent (`invoice.lines`,
`subscription.items`) with `has_more` and the `url` to page the rest; children that are not
embedded (a customer's balance transactions) are listed once per parent.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from stripe_source.api import StripeApi
from stripe_source.catalog import Model, children_of

PAGE_SIZE = 100
MIN_PAGES_TO_SPLIT = 2
STRIPE_EPOCH = 1293840000  # 2011-01-01: nothing on Stripe is older

Obj = dict[str, Any]


@dataclass
class Batch:
    """Objects of one model from one page, with the parent they were listed under."""

    model: Model
    account_id: str
    objects: list[Obj]
    version: float
    parent_id: str | None = None


class GroupClosedError(Exception):
    """The consumer of a task group went away (the run failed or was interrupted)."""


@dataclass
class Failure:
    """A task that raised; `source` names the event (or object) it worked for, if any."""

    model: Model
    account_id: str
    error: BaseException
    source: str | None = None


class TaskGroup:
    """Tasks on a shared pool that may add tasks; `results()` ends when all of them are done.

    At most `max_buffered` pages wait for the consumer: with dozens of models listed at once,
    a deeper queue per model would let memory grow with the account whenever dlt falls behind.

    At most `max_queued` tasks wait for a thread. A customer page asks for 100 balance-transaction
    listings, far faster than the rate limit serves them; queued without bound, a full sync would
    hold one task per customer of the account. Past the bound, a task that may run on its
    submitter's thread does so, which also slows the parent listing to the pace of its children.
    """

    def __init__(self, max_buffered: int = 8, max_queued: int = 100) -> None:
        self._out: queue.Queue[Batch | Failure | None] = queue.Queue(maxsize=max_buffered)
        self._max_queued = max_queued
        self._pending = 0
        self._queued = 0
        self._submitted = False
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def submit(
        self, pool: ThreadPoolExecutor, task: Callable[[], None], *, may_run_here: bool = False
    ) -> None:
        """Queue `task` on the pool; with `may_run_here`, run it at once when the queue is full."""
        if self._closed.is_set():
            raise GroupClosedError
        with self._lock:
            run_here = may_run_here and self._queued >= self._max_queued
            if not run_here:
                self._pending += 1
                self._queued += 1
                self._submitted = True
        if run_here:
            self._execute(task)
        else:
            pool.submit(self._run, task)

    def put(self, item: Batch | Failure) -> None:
        """Hand a result to the consumer; gives up once the consumer has stopped listening."""
        if not self._hand_over(item):
            raise GroupClosedError

    def close(self) -> None:
        """Stop the tasks: each ends at its next hand-over instead of waiting for a reader."""
        self._closed.set()

    def _run(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._queued -= 1
        try:
            self._execute(task)
        finally:
            with self._lock:
                self._pending -= 1
                done = self._pending == 0
            if done:
                self._hand_over(None)

    def _execute(self, task: Callable[[], None]) -> None:
        try:
            task()
        except GroupClosedError:
            pass
        except BaseException as error:  # handed to the consumer, which decides what it means
            model, account_id = task.model, task.account_id  # type: ignore[attr-defined]
            self._hand_over(Failure(model, account_id, error, getattr(task, "source", None)))

    def _hand_over(self, item: Batch | Failure | None) -> bool:
        while not self._closed.is_set():
            try:
                self._out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def results(self) -> Iterator[Batch | Failure]:
        """Results until every task is done; closing the iterator early stops the tasks."""
        with self._lock:
            if not self._submitted:
                return
        try:
            while (item := self._out.get()) is not None:
                yield item
        finally:
            self.close()


@dataclass
class ModelTask:
    """A callable that remembers which model it lists, so a failure can be attributed."""

    model: Model
    account_id: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


@dataclass
class ModelLister:
    """Lists one top-level model, and the selected children it carries, for one key."""

    api: StripeApi
    pool: ThreadPoolExecutor
    account_id: str
    model: Model
    group: TaskGroup
    children: tuple[Model, ...] = ()
    created_since: int | None = None
    lower_bound: int = STRIPE_EPOCH
    events_follow: bool = False

    def start(self) -> None:
        floor = max(self.lower_bound, self.created_since or 0)
        self._submit(self.model, lambda: self._page_range(floor, None))

    def _submit(self, model: Model, run: Callable[[], None], *, may_run_here: bool = False) -> None:
        task = ModelTask(model, self.account_id, run)
        self.group.submit(self.pool, task, may_run_here=may_run_here)

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, **self.model.list_params}
        expand = [f"data.{c.embedded}" for c in self.children if c.embedded_on_expand]
        if expand:
            params["expand"] = expand
        return params

    def _page_range(self, gte: int, lt: int | None) -> None:
        """Page the objects created in [gte, lt), handing the older half to another thread when
        the key has spare capacity.

        After each page the objects still to come are those created in [gte, oldest seen]. If
        they are expected to fill several pages and the key's threads are not all busy, the range
        is bisected: a new task pages [gte, mid) from scratch while this one carries on with its
        cursor, now bounded below by mid. Each split costs at most one extra (partial) page, so
        splitting happens only while it buys parallelism.
        """
        starting_after: str | None = None
        while True:
            params = self._params()
            if self.model.created_filter:
                params["created"] = {"gte": gte} if lt is None else {"gte": gte, "lt": lt}
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = self._get(params)
            data = page["data"]
            if not page["has_more"] or not data or self._older_than_wanted(data, gte):
                return
            starting_after = data[-1]["id"]
            if self.model.created_filter and self._worth_splitting(data, gte):
                oldest = data[-1][self.model.created_field]
                mid = gte + (oldest - gte) // 2
                self._submit(self.model, partial(self._page_range, gte, mid))
                gte = mid

    def _older_than_wanted(self, data: list[Obj], gte: int) -> bool:
        """Without a `created` filter, a list of new objects stops at the first older one:
        lists come newest first."""
        if self.model.created_filter or self.created_since is None:
            return False
        return data[-1].get(self.model.created_field, gte) < gte

    def _worth_splitting(self, data: list[Obj], gte: int) -> bool:
        created = self.model.created_field
        oldest, newest = data[-1][created], data[0][created]
        if oldest - gte < 2 or not self.api.has_spare_capacity():
            return False
        expected_pages = len(data) * (oldest - gte) / max(1, newest - oldest) / PAGE_SIZE
        return expected_pages >= MIN_PAGES_TO_SPLIT

    def _get(self, params: dict[str, Any]) -> Obj:
        response = self.api.request(self.model.list_path(), params, model=self.model.name)
        page = response.data
        self.group.put(Batch(self.model, self.account_id, page["data"], response.served_at))
        for parent in page["data"]:
            for child in self.children:
                self.complete_children(parent, child, response.served_at)
        return page

    def complete_children(
        self, parent: Obj, child: Model, version: float, *, inline: bool = False
    ) -> None:
        """Emit the embedded children and request any that Stripe left out: on other threads,
        or with `inline` on this one, so that a failure belongs to the caller's task.

        With `events_follow`, children whose parent field says there are none (a customer
        with no balance has no balance transactions to list) wait for the event that would
        announce them, instead of costing a request per new parent.
        """
        embedded = parent.get(child.embedded) if child.embedded else None
        if embedded is None:
            if self.events_follow and child.relist_on and not parent.get(child.relist_on):
                return
            self._run_or_submit(child, partial(self.list_children, parent["id"], child), inline)
            return
        items = [item for item in embedded["data"] if _matches(item, child)]
        if items:
            self.group.put(Batch(child, self.account_id, items, version, parent["id"]))
        if embedded.get("has_more") and embedded["data"]:
            last = embedded["data"][-1]["id"]
            rest = partial(self.list_children, parent["id"], child, last)
            self._run_or_submit(child, rest, inline)

    def _run_or_submit(self, model: Model, run: Callable[[], None], inline: bool) -> None:
        if inline:
            run()
        else:
            self._submit(model, run, may_run_here=True)

    def list_children(self, parent_id: str, child: Model, starting_after: str | None = None):
        path = child.list_path(parent_id) if "{parent}" in child.path else child.path
        params: dict[str, Any] = {"limit": PAGE_SIZE, **child.list_params}
        if child.parent_param:
            params[child.parent_param] = parent_id
        while True:
            if starting_after is not None:
                params["starting_after"] = starting_after
            response = self.api.request(path, params, model=child.name)
            page = response.data
            items = [item for item in page["data"] if _matches(item, child)]
            if items:
                self.group.put(Batch(child, self.account_id, items, response.served_at, parent_id))
            if not page["has_more"] or not page["data"]:
                return
            starting_after = page["data"][-1]["id"]


def _matches(item: Obj, child: Model) -> bool:
    """Mixed sub-lists (customer `sources` holds cards and bank accounts) keep their own kind."""
    return item.get("object") == child.object


def selected_children(parent: Model, selected: set[str]) -> tuple[Model, ...]:
    return tuple(child for child in children_of(parent) if child.name in selected)
