"""From a run's events to changes: which objects to upsert, delete, fetch again or list again.

Stripe objects have no `updated` field, so changes come from the Events API. Only the newest event
about an object matters: it carries the object as it was then (`data.object`). That snapshot is
used as is unless it cannot be trusted to have the shape and completeness of a fetched object:
it is rendered in the API version of the event (which may be older than the pinned one), and its
sub-lists stop at 10 items. Such objects are retrieved again.

Deletions are the `*.deleted` events the catalog names; `customer.subscription.deleted` is a
cancellation and upserts a canceled subscription. Children follow their parent: the lines of a
deleted invoice go with it, and a subscription's items not in its newest complete snapshot were
removed from it (Stripe sends no event for a removed item).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stripe_source.catalog import MODEL_BY_EVENT_TYPE, MODELS_BY_NAME, Model, children_of

Obj = dict[str, Any]

# An event wins a tie with a list fetched in the same second: Stripe's `Date` header and event
# `created` both count whole seconds, and the event may have happened just after the fetch.
EVENT_TIE_BREAK = 0.5


class Status(StrEnum):
    """What became of one event (or one object handed over by code)."""

    APPLIED = "applied"
    SUPERSEDED = "superseded"
    UNMODELLED = "unmodelled"
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    """One object's newest known state, when it was true, and what told us (`source`: the
    event id, or the object id for objects handed over by code)."""

    model: Model
    obj: Obj
    version: float
    parent_id: str | None = None
    source: str | None = None


@dataclass
class EventPlan:
    """What the events of one account ask a run to do."""

    upserts: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    refetch: list[Change] = field(default_factory=list)
    relist_children: list[tuple[Change, Model]] = field(default_factory=list)
    unmodelled: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Status] = field(default_factory=dict)


def model_of_type(event: Obj) -> Model | None:
    """The catalog model an event is about, if any (customer sources may be bank accounts)."""
    model = MODEL_BY_EVENT_TYPE.get(event["type"])
    if model is None:
        return None
    if model.name == "Card" and event["data"]["object"].get("object") != "card":
        return None
    return model


def event_model(event: Obj, selected: set[str]) -> Model | None:
    """The selected model an event is about, if any."""
    model = model_of_type(event)
    return model if model is not None and model.name in selected else None


def parent_id_of(model: Model, obj: Obj) -> str | None:
    if model.parent_field is None:
        return None
    parent = obj.get(model.parent_field)
    return parent.get("id") if isinstance(parent, dict) else parent


def needs_refetch(model: Model, obj: Obj, api_version: str | None, pinned: str, selected) -> bool:
    """A snapshot in another API version, or with a truncated sub-list we keep, is fetched again."""
    if api_version and api_version != pinned:
        return True
    for child in children_of(model):
        if child.name not in selected or child.embedded is None or child.embedded_on_expand:
            continue
        embedded = obj.get(child.embedded)
        if isinstance(embedded, dict) and embedded.get("has_more"):
            return True
    return False


def _recency(event: Obj, model: Model, position: int) -> tuple[int, bool, int, str]:
    """Order of events about one object: by second, a deletion last, then Stripe's list order
    (pages come newest first, so a lower position in the same page is more recent), then the
    id, so that the outcome never depends on the order pages arrived in."""
    return (event["created"], event["type"] in model.delete_events, -position, event["id"])


def _children_changed(child: Model, event: Obj) -> bool:
    """Whether an event about a parent may mean its unannounced children changed.

    A new parent's children are listed with it by its model's `created` listing.
    """
    if event["type"].endswith(".created"):
        return False
    if child.relist_on is None:
        return True
    return child.relist_on in (event["data"].get("previous_attributes") or {})


def plan_events(pages: list[list[Obj]], selected: set[str], pinned_version: str) -> EventPlan:
    """Reduce event pages, in any order and with repeats, to the newest change per object.

    Children Stripe does not embed are listed again when any event of the run says they may
    have changed, not only the newest: a balance change followed by an email change still
    brings the customer's new balance transactions.
    """
    plan = EventPlan()
    newest: dict[tuple[str, str], tuple[tuple[int, bool, int, str], Obj, Model]] = {}
    relist: dict[tuple[str, str], set[str]] = {}
    seen: set[str] = set()
    for page in pages:
        for position, event in enumerate(page):
            if event["id"] in seen:
                continue
            seen.add(event["id"])
            model = event_model(event, selected)
            if model is None:
                if model_of_type(event) is None:
                    plan.unmodelled[event["type"]] += 1
                    plan.outcomes[event["id"]] = Status.UNMODELLED
                continue
            plan.applied[event["type"]] += 1
            key = (model.name, event["data"]["object"]["id"])
            relist.setdefault(key, set()).update(
                child.name
                for child in children_of(model)
                if child.name in selected
                and child.embedded is None
                and _children_changed(child, event)
            )
            recency = _recency(event, model, position)
            if key not in newest:
                newest[key] = (recency, event, model)
                continue
            older, newer = sorted((newest[key], (recency, event, model)), key=lambda n: n[0])
            newest[key] = newer
            plan.outcomes[older[1]["id"]] = Status.SUPERSEDED

    for key, (_, event, model) in newest.items():
        version = event["created"] + EVENT_TIE_BREAK
        obj = event["data"]["object"]
        change = Change(model, obj, version, parent_id_of(model, obj), event["id"])
        if event["type"] in model.delete_events:
            plan.deletes.append(change)
            continue
        add_snapshot(plan, change, selected, event.get("api_version"), pinned_version)
        for child in children_of(model):
            if child.name in relist[key]:
                plan.relist_children.append((change, child))
    return plan


def add_snapshot(
    plan: EventPlan,
    change: Change,
    selected: set[str],
    api_version: str | None,
    pinned_version: str,
) -> None:
    """Upsert a snapshot as is, or fetch its object again when the snapshot cannot be used."""
    if needs_refetch(change.model, change.obj, api_version, pinned_version, selected):
        plan.refetch.append(change)
    else:
        plan.upserts.append(change)


def selected_names(models: list[str] | None) -> set[str]:
    return {MODELS_BY_NAME[name].name for name in models} if models else set(MODELS_BY_NAME)
