"""In-memory state of the emulated Stripe accounts: objects, list order, children and events.

Stored objects are never mutated in place. An update stores a new dict, so an event can keep a
reference to the object as it was when the event happened (its `data.object` snapshot) without
copying it, and a page being serialized never sees a half-applied write.

Lists are kept newest first by `created`, ties broken by insertion order (the later insert first),
as Stripe orders them. Children that Stripe lists only under a parent (invoice lines, subscription
items, ...) keep their parent's order and are also reachable by id.
"""

from __future__ import annotations

import bisect
import fnmatch
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stripe_source.catalog import MODELS, MODELS_BY_NAME, Model, children_of

EVENT_RETENTION_SECONDS = 30 * 24 * 3600
EMBEDDED_LIMIT = 10
API_VERSION = "2026-10-28.endive"

Obj = dict[str, Any]


class Clock:
    """Unix time as the emulator sees it: the real clock plus an offset tests can advance."""

    def __init__(self, start: int | None = None) -> None:
        self.offset = 0 if start is None else start - int(time.time())

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> int:
        self.offset += seconds
        return self.now()


@dataclass
class Page:
    data: list[Obj]
    has_more: bool


class TypeIndex:
    """Ids of one model in Stripe's list order, searchable by `created` and by position."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, int, str]] = []
        self._key_of: dict[str, tuple[int, int, str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def insert(self, obj_id: str, created: int, seq: int) -> None:
        key = (-created, -seq, obj_id)
        bisect.insort(self._keys, key)
        self._key_of[obj_id] = key

    def remove(self, obj_id: str) -> None:
        key = self._key_of.pop(obj_id, None)
        if key is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]

    def __contains__(self, obj_id: str) -> bool:
        return obj_id in self._key_of

    def position(self, obj_id: str) -> int:
        return bisect.bisect_left(self._keys, self._key_of[obj_id])

    def created_bounds(self, created: dict[str, int] | None) -> tuple[int, int]:
        """Slice [start, stop) of the list whose `created` satisfies gt/gte/lt/lte."""
        start, stop = 0, len(self._keys)
        if not created:
            return start, stop
        if "gt" in created:
            stop = min(stop, bisect.bisect_left(self._keys, (-created["gt"],)))
        if "gte" in created:
            stop = min(stop, bisect.bisect_left(self._keys, (-created["gte"] + 1,)))
        if "lt" in created:
            start = max(start, bisect.bisect_left(self._keys, (-created["lt"] + 1,)))
        if "lte" in created:
            start = max(start, bisect.bisect_left(self._keys, (-created["lte"],)))
        return start, max(start, stop)

    def ids(self, start: int, stop: int, step: int = 1) -> Iterator[str]:
        if step > 0:
            for i in range(start, stop):
                yield self._keys[i][2]
        else:
            for i in range(stop - 1, start - 1, -1):
                yield self._keys[i][2]


class ChildIndex:
    """Children of one parent in their parent's order (invoice lines as billed, items as added)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Account:
    """One emulated Stripe account with everything it owns."""

    id: str
    number: int
    objects: dict[str, Obj] = field(default_factory=dict)
    model_of: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, TypeIndex] = field(default_factory=dict)
    children: dict[tuple[str, str], ChildIndex] = field(default_factory=dict)
    parent_of: dict[str, tuple[str, str]] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    events: TypeIndex = field(default_factory=TypeIndex)
    connected: list[str] = field(default_factory=list)
    platform: str | None = None
    # Stripe has no endpoint for discounts (a coupon applied to a subscription); renewals read
    # them here to discount each invoice while the coupon's duration lasts.
    discounts: dict[str, Obj] = field(default_factory=dict)


class Store:
    """Every emulated account, with the operations the HTTP layer, the seeder and writes use."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.accounts: dict[str, Account] = {}
        self._seq = 0

    def add_account(self, account_id: str, number: int, platform: str | None = None) -> Account:
        account = Account(id=account_id, number=number, platform=platform)
        self.accounts[account_id] = account
        if platform is not None:
            self.accounts[platform].connected.append(account_id)
        return account

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # objects

    def add(self, account: Account, model: Model, obj: Obj, parent_id: str | None = None) -> Obj:
        """Store a new object; children go under `parent_id` in their parent's order."""
        obj_id = obj["id"]
        account.objects[obj_id] = obj
        account.model_of[obj_id] = model.name
        if model.is_child:
            if parent_id is None:
                raise ValueError(f"{model.name} {obj_id} needs its parent's id")
            key = (parent_id, model.name)
            account.children.setdefault(key, ChildIndex()).ids.append(obj_id)
            account.parent_of[obj_id] = key
        else:
            index = account.indexes.setdefault(model.name, TypeIndex())
            index.insert(obj_id, obj.get(model.created_field, 0), self._next_seq())
        return obj

    def replace(self, account: Account, obj: Obj) -> Obj:
        """Store a new version of an existing object (never mutate the old one)."""
        if obj["id"] not in account.objects:
            raise KeyError(obj["id"])
        account.objects[obj["id"]] = obj
        return obj

    def delete(self, account: Account, obj_id: str) -> None:
        """Remove an object from lists; retrieving it then gives a `deleted` stub.

        Its children go with it: nothing is listed under a parent Stripe no longer has.
        """
        for child in children_of(MODELS_BY_NAME[account.model_of[obj_id]]):
            for child_id in self.children_ids(account, obj_id, child):
                if child_id in account.objects:
                    self.delete(account, child_id)
        obj = account.objects.pop(obj_id)
        model_name = account.model_of.pop(obj_id)
        account.deleted[obj_id] = obj["object"]
        if obj_id in account.parent_of:
            key = account.parent_of.pop(obj_id)
            account.children[key].ids.remove(obj_id)
        else:
            account.indexes[model_name].remove(obj_id)

    def get(self, account: Account, obj_id: str) -> Obj | None:
        return account.objects.get(obj_id)

    def model(self, account: Account, obj_id: str) -> Model:
        return MODELS_BY_NAME[account.model_of[obj_id]]

    def children_ids(self, account: Account, parent_id: str, model: Model) -> list[str]:
        child_index = account.children.get((parent_id, model.name))
        return list(child_index.ids) if child_index else []

    def embedded_list(self, account: Account, parent_id: str, model: Model, url: str) -> Obj:
        """The first 10 children as Stripe embeds them in the parent, with `has_more`."""
        ids = self.children_ids(account, parent_id, model)
        return {
            "object": "list",
            "data": [account.objects[i] for i in ids[:EMBEDDED_LIMIT]],
            "has_more": len(ids) > EMBEDDED_LIMIT,
            "total_count": len(ids),
            "url": url,
        }

    def refresh_embedded(self, account: Account, parent_id: str) -> Obj:
        """Store a new version of a parent whose sub-lists show its current first 10 children.

        Stripe embeds children such as invoice `lines` in the parent itself, truncated at 10 with
        `has_more` and the `url` to page the rest from. Sub-lists Stripe only shows on `expand[]`
        (customer `tax_ids`, quote `line_items`, ...) are left out of the stored parent.
        """
        parent = account.objects[parent_id]
        sub_lists = {}
        for child in MODELS:
            if child.parent != account.model_of[parent_id] or not child.embedded:
                continue
            if child.embedded_on_expand:
                continue
            if child.parent_param:
                url = f"{child.path}?{child.parent_param}={parent_id}"
            else:
                url = child.list_path(parent_id)
            sub_lists[child.embedded] = self.embedded_list(account, parent_id, child, url)
        if not sub_lists:
            return parent
        return self.replace(account, {**parent, **sub_lists})

    # lists

    def list_top_level(
        self,
        account: Account,
        model: Model,
        *,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: dict[str, int] | None = None,
        where: Callable[[Obj], bool] | None = None,
    ) -> Page:
        index = account.indexes.get(model.name) or TypeIndex()
        return self._page(
            account.objects, index, limit, starting_after, ending_before, created, where
        )

    def list_children(
        self,
        account: Account,
        parent_id: str,
        model: Model,
        *,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        where: Callable[[Obj], bool] | None = None,
    ) -> Page:
        ids = self.children_ids(account, parent_id, model)
        if where is not None:
            ids = [i for i in ids if where(account.objects[i])]
        start, stop = 0, len(ids)
        if starting_after is not None:
            start = ids.index(starting_after) + 1 if starting_after in ids else len(ids)
            chosen = ids[start : start + limit]
            return Page([account.objects[i] for i in chosen], start + limit < stop)
        if ending_before is not None:
            stop = ids.index(ending_before) if ending_before in ids else 0
            chosen = ids[max(0, stop - limit) : stop]
            return Page([account.objects[i] for i in chosen], stop - limit > 0)
        return Page([account.objects[i] for i in ids[:limit]], limit < stop)

    def _page(
        self,
        objects: dict[str, Obj],
        index: TypeIndex,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        created: dict[str, int] | None,
        where: Callable[[Obj], bool] | None,
    ) -> Page:
        start, stop = index.created_bounds(created)
        if starting_after is not None:
            start = max(start, index.position(starting_after) + 1)
            step = 1
        elif ending_before is not None:
            stop = min(stop, index.position(ending_before))
            step = -1
        else:
            step = 1

        found: list[Obj] = []
        has_more = False
        for obj_id in index.ids(start, stop, step):
            obj = objects[obj_id]
            if where is not None and not where(obj):
                continue
            if len(found) == limit:
                has_more = True
                break
            found.append(obj)
        if step < 0:
            found.reverse()
        return Page(found, has_more)

    # events

    def emit(
        self,
        account: Account,
        event_type: str,
        obj: Obj,
        *,
        previous_attributes: Obj | None = None,
        created: int | None = None,
        request_id: str | None = None,
        pending_webhooks: int = 0,
        api_version: str = API_VERSION,
        event_id: str | None = None,
    ) -> Obj:
        """Record an event whose `data.object` is `obj` as it is now."""
        created = self.clock.now() if created is None else created
        seq = self._next_seq()
        data: Obj = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event: Obj = {
            "id": event_id or f"evt_{account.number:04d}{seq:020d}",
            "object": "event",
            "api_version": api_version,
            "created": created,
            "data": data,
            "livemode": False,
            "pending_webhooks": pending_webhooks,
            "request": {"id": request_id, "idempotency_key": None},
            "type": event_type,
        }
        if account.platform is not None:
            event["account"] = account.id
        account.objects[event["id"]] = event
        account.model_of[event["id"]] = "Event"
        account.events.insert(event["id"], created, seq)
        return event

    def list_events(
        self,
        account: Account,
        *,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: dict[str, int] | None = None,
        types: list[str] | None = None,
        delivery_success: bool | None = None,
    ) -> Page:
        """Events newest first; anything older than 30 days by the clock is gone, as on Stripe."""
        window = {"gte": self.clock.now() - EVENT_RETENTION_SECONDS}
        bounds = dict(created or {})
        if bounds.get("gte", -1) < window["gte"] and bounds.get("gt", -1) < window["gte"]:
            bounds["gte"] = window["gte"]

        def where(event: Obj) -> bool:
            if types and not any(fnmatch.fnmatchcase(event["type"], t) for t in types):
                return False
            if delivery_success is not None:
                return (event["pending_webhooks"] == 0) == delivery_success
            return True

        return self._page(
            account.objects,
            account.events,
            limit,
            starting_after,
            ending_before,
            bounds,
            where if (types or delivery_success is not None) else None,
        )

    def event_is_served(self, event: Obj) -> bool:
        return event["created"] >= self.clock.now() - EVENT_RETENTION_SECONDS

    # ground truth

    def state(self, account: Account) -> dict[str, list[Obj]]:
        """Every live object of the account per model name: what a destination must equal."""
        by_model: dict[str, list[Obj]] = {}
        for obj_id, model_name in account.model_of.items():
            if model_name != "Event":
                by_model.setdefault(model_name, []).append(account.objects[obj_id])
        return by_model
