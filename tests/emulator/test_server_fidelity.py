"""Over HTTP, every catalog model comes back in the pinned SDK's shapes and in full.

These tests read the realistic seeded store, shared by the session, and never write to it.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe._object_classes import get_object_class

from stripe_source.catalog import MODELS, Model
from stripe_source.emulator.expand import fields_of
from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.store import Account

TOP_LEVEL = [m for m in MODELS if not m.is_child]
CHILDREN = [m for m in MODELS if m.is_child]
PARENTS_CHECKED = 3


def platform(emulator: RunningEmulator) -> Account:
    return next(a for a in emulator.store.accounts.values() if a.platform is None)


def parents_with_children(emulator: RunningEmulator, model: Model) -> list[str]:
    """Up to three parents holding the most children of this model."""
    account = platform(emulator)
    counts = {
        parent: len(index)
        for (parent, name), index in account.children.items()
        if name == model.name and len(index) and parent in account.objects
    }
    return sorted(counts, key=lambda parent: (-counts[parent], parent))[:PARENTS_CHECKED]


def list_all(client: stripe.StripeClient, path: str, params: dict[str, Any]) -> list[Any]:
    """Every object of a list endpoint as sent on the wire, paged as a sync pages it."""
    listed = client.raw_request("get", path, limit=100, **params).data
    found = list(listed["data"])
    while listed["has_more"]:
        after = {**params, "limit": 100, "starting_after": found[-1]["id"]}
        listed = client.raw_request("get", path, **after).data
        found += listed["data"]
    return found


def assert_sdk_shape(obj: dict[str, Any]) -> None:
    cls = get_object_class("V1", obj["object"])
    assert obj["object"] == cls.OBJECT_NAME  # type: ignore[attr-defined]
    unknown = set(obj) - set(cls.__annotations__)
    assert not unknown, f"{obj['object']} {obj['id']} has fields the SDK does not know: {unknown}"


@pytest.mark.parametrize("model", TOP_LEVEL, ids=lambda m: m.name)
def test_every_top_level_list_returns_every_stored_object_in_sdk_shapes(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient, model: Model
):
    stored = seeded_emulator.store.state(platform(seeded_emulator)).get(model.name, [])
    hidden_by_default = {
        "Customer": lambda c: c.get("test_clock") is not None,
    }.get(model.name, lambda obj: False)

    listed = list_all(seeded_client, model.path, dict(model.list_params))

    assert sorted(o["id"] for o in listed) == sorted(
        o["id"] for o in stored if not hidden_by_default(o)
    )
    for obj in listed:
        assert_sdk_shape(obj)


@pytest.mark.parametrize("model", CHILDREN, ids=lambda m: m.name)
def test_every_child_list_returns_its_parents_children_in_sdk_shapes(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient, model: Model
):
    account = platform(seeded_emulator)
    parents = parents_with_children(seeded_emulator, model)
    if not parents:
        pytest.skip(f"the seed made no {model.name}")

    for parent in parents:
        params = dict(model.list_params)
        if model.parent_param:
            params[model.parent_param] = parent
        listed = list_all(seeded_client, model.list_path(parent), params)

        expected = seeded_emulator.store.children_ids(account, parent, model)
        assert [o["id"] for o in listed] == expected
        for obj in listed:
            assert_sdk_shape(obj)


def test_every_expandable_id_of_the_newest_object_expands_to_the_stored_object(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient
):
    account = platform(seeded_emulator)
    state = seeded_emulator.store.state(account)
    checked = []
    for model in TOP_LEVEL:
        stored = state.get(model.name, [])
        if not stored:
            continue
        newest = max(stored, key=lambda obj: obj["created"] if "created" in obj else 0)
        fields = fields_of(get_object_class("V1", newest["object"]))
        refs = sorted(
            name
            for name, field in fields.items()
            if field.kind == "ref" and isinstance(newest.get(name), str)
        )
        if not refs:
            continue

        path = f"{model.path}/{newest['id']}"
        expanded = seeded_client.raw_request("get", path, expand=refs).data

        for name in refs:
            assert expanded[name] == expected_expansion(account, newest[name]), (model.name, name)
        checked.append(model.name)

    # models whose newest object references nothing (coupons, tax rates, ...) have nothing to
    # expand; the rest must be enough to cover the billing and payment graph
    assert {"Invoice", "Charge", "PaymentIntent", "Subscription"} <= set(checked)
    assert len(checked) >= 20, checked


def expected_expansion(account: Account, obj_id: str) -> Any:
    """The stored object, a deleted stub, or the id itself when it names nothing stored."""
    if obj_id in account.objects:
        return account.objects[obj_id]
    if obj_id in account.deleted:
        return {"id": obj_id, "object": account.deleted[obj_id], "deleted": True}
    return obj_id
