"""Listing a model as fast as the rate limit allows: `created` partitions and completed sub-lists.

Stripe lists newest first and pages are sequential (each needs the previous page's last id), so a
single cursor is bound by latency: at 300 ms a page, about 3 pages a second against a budget of 25.
Models that accept `created` filters are therefore split into time ranges paged in parallel.
The first page is fetched plainly; its time span estimates how many objects lie below it, and the
remaining range is cut into slices of a few pages each. All slices of all models of a key run on
one thread pool and one rate limiter, so the request rate sits at the key's limit.

Children are completed here too. Stripe embeds at most 10 children in a parent (`invoice.lines`,
`subscription.items`) with `has_more` and the `url` to page the rest; children that are not
embedded (a customer's balance transactions) are listed once per parent.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stripe_source.api import StripeApi
from stripe_source.catalog import Model, children_of

PAGE_SIZE = 100
PAGES_PER_SLICE = 3
MAX_SLICES = 256
STRIPE_EPOCH = 1293840000  # 2011-01-01: nothing on Stripe is older

Obj = dict[str, Any]


@dataclass
class Batch:
    """Objects of one model from one page, with the parent they were listed under."""

    model: Model
    account_id: str
    objects: list[Obj]
    parent_id: str | None = None


@dataclass
class Failure:
    model: Model
    account_id: str
    error: BaseException


class TaskGroup:
    """Tasks on a shared pool that may add tasks; `results()` ends when all of them are done."""

    def __init__(self, max_buffered: int = 64) -> None:
        self._out: queue.Queue[Batch | Failure | None] = queue.Queue(maxsize=max_buffered)
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, pool: ThreadPoolExecutor, task: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
        pool.submit(self._run, task)

    def put(self, item: Batch | Failure) -> None:
        self._out.put(item)

    def _run(self, task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as error:  # handed to the consumer, which decides what it means
            self._out.put(Failure(task.model, task.account_id, error))  # type: ignore[attr-defined]
        finally:
            with self._lock:
                self._pending -= 1
                done = self._pending == 0
            if done:
                self._out.put(None)

    def results(self) -> Iterator[Batch | Failure]:
        while (item := self._out.get()) is not None:
            yield item


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

    def start(self) -> None:
        self._submit(self.model, self._first_page)

    def _submit(self, model: Model, run: Callable[[], None]) -> None:
        self.group.submit(self.pool, ModelTask(model, self.account_id, run))

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, **self.model.list_params}
        expand = [f"data.{c.embedded}" for c in self.children if c.embedded_on_expand]
        if expand:
            params["expand"] = expand
        if self.created_since is not None and self.model.created_filter:
            params["created"] = {"gte": self.created_since}
        return params

    def _first_page(self) -> None:
        page = self._get(self._params())
        if not page["has_more"] or not page["data"]:
            return
        if not self.model.created_filter:
            self._page_on(self._params(), page["data"][-1]["id"])
            return

        # the oldest second of the first page is finished by that page's own cursor
        created = self.model.created_field
        oldest = page["data"][-1][created]
        newest = page["data"][0][created]
        tail = self._params()
        tail["created"] = {**tail.get("created", {}), "gte": oldest}
        self._submit(self.model, lambda: self._page_on(tail, page["data"][-1]["id"]))
        floor = max(self.lower_bound, self.created_since or 0)
        for gte, lt in self._slices(floor, oldest, newest, len(page["data"])):
            params = self._params()
            params["created"] = {"gte": gte, "lt": lt}
            self._submit(self.model, lambda p=params: self._page_on(p, None))

    @staticmethod
    def _slices(floor: int, below: int, newest: int, seen: int) -> list[tuple[int, int]]:
        """Equal time slices of [floor, below) sized to hold a few pages at the observed density."""
        if below <= floor:
            return [(floor, below)] if below == floor else []
        density = seen / max(1, newest - below)
        expected_pages = density * (below - floor) / PAGE_SIZE
        count = max(1, min(MAX_SLICES, math.ceil(expected_pages / PAGES_PER_SLICE)))
        width = math.ceil((below - floor) / count)
        return [(start, min(start + width, below)) for start in range(floor, below, width)]

    def _page_on(self, params: dict[str, Any], starting_after: str | None) -> None:
        while True:
            query = dict(params)
            if starting_after is not None:
                query["starting_after"] = starting_after
            page = self._get(query)
            if not page["data"]:
                return
            starting_after = page["data"][-1]["id"]
            if not page["has_more"]:
                return

    def _get(self, params: dict[str, Any]) -> Obj:
        page = self.api.get(self.model.list_path(), params, model=self.model.name)
        self.group.put(Batch(self.model, self.account_id, page["data"]))
        for parent in page["data"]:
            for child in self.children:
                self._complete_children(parent, child)
        return page

    def _complete_children(self, parent: Obj, child: Model) -> None:
        """Emit the embedded children and queue the requests for any that Stripe left out."""
        embedded = parent.get(child.embedded) if child.embedded else None
        if embedded is None:
            self._submit(child, lambda: self._list_children(parent["id"], child))
            return
        items = [item for item in embedded["data"] if _matches(item, child)]
        if items:
            self.group.put(Batch(child, self.account_id, items, parent["id"]))
        if embedded.get("has_more") and embedded["data"]:
            last = embedded["data"][-1]["id"]
            self._submit(child, lambda: self._list_children(parent["id"], child, last))

    def _list_children(self, parent_id: str, child: Model, starting_after: str | None = None):
        path = child.list_path(parent_id) if "{parent}" in child.path else child.path
        params: dict[str, Any] = {"limit": PAGE_SIZE, **child.list_params}
        if child.parent_param:
            params[child.parent_param] = parent_id
        while True:
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = self.api.get(path, params, model=child.name)
            items = [item for item in page["data"] if _matches(item, child)]
            if items:
                self.group.put(Batch(child, self.account_id, items, parent_id))
            if not page["has_more"] or not page["data"]:
                return
            starting_after = page["data"][-1]["id"]


def _matches(item: Obj, child: Model) -> bool:
    """Mixed sub-lists (customer `sources` holds cards and bank accounts) keep their own kind."""
    return item.get("object") == child.object


def selected_children(parent: Model, selected: set[str]) -> tuple[Model, ...]:
    return tuple(child for child in children_of(parent) if child.name in selected)
