"""The seeded accounts: deterministic, shaped like the pinned SDK, and internally consistent."""

from __future__ import annotations

import importlib
import re
import typing
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject

from stripe_source.catalog import MODELS, MODELS_BY_NAME, Model
from stripe_source.emulator.factories import BUILDERS
from stripe_source.emulator.seed import seed_store
from stripe_source.emulator.store import EMBEDDED_LIMIT, EVENT_RETENTION_SECONDS, Account, Store

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 24 * 3600
ID_PATTERN = re.compile(r"^([a-z]+(?:_[a-z]+)*)_(1[A-Za-z0-9]{9,})$")
Obj = dict[str, Any]


def seeded(objects: int, seed: int = 42, accounts: int = 1) -> Store:
    store = Store()
    seed_store(store, seed=seed, objects=objects, accounts=accounts, now=NOW)
    return store


@pytest.fixture(scope="module")
def store() -> Store:
    return seeded(2000)


@pytest.fixture(scope="module")
def platform(store: Store) -> Account:
    return next(account for account in store.accounts.values() if account.platform is None)


def live_objects(store: Store, account: Account) -> Iterator[Obj]:
    for objects in store.state(account).values():
        yield from objects


def events(account: Account) -> list[Obj]:
    return [account.objects[event_id] for event_id in account.events.ids(0, len(account.events))]


def children(store: Store, account: Account, parent_id: str, model: Model) -> list[Obj]:
    return [account.objects[i] for i in store.children_ids(account, parent_id, model)]


# determinism


def snapshot(store: Store) -> list[tuple[str, dict[str, list[Obj]], list[Obj]]]:
    return [
        (account.id, store.state(account), events(account)) for account in store.accounts.values()
    ]


def test_the_same_arguments_give_an_identical_store() -> None:
    assert snapshot(seeded(600)) == snapshot(seeded(600))


def test_a_different_seed_gives_different_data() -> None:
    first, second = seeded(600, seed=1), seeded(600, seed=2)

    assert snapshot(first) != snapshot(second)


def test_each_account_gets_its_own_data_and_ids() -> None:
    store = seeded(600, accounts=2)
    platforms = [account for account in store.accounts.values() if account.platform is None]
    ids = [{obj["id"] for obj in live_objects(store, account)} for account in platforms]

    assert [account.id for account in platforms] == [
        "acct_1Emulator0000001",
        "acct_1Emulator0000002",
    ]
    shared = {obj_id for obj_id in ids[0] & ids[1] if not obj_id.startswith("txcd_")}
    assert shared == set()


# size and spread


def test_the_live_objects_of_an_account_add_up_to_the_requested_count(
    store: Store, platform: Account
) -> None:
    assert sum(len(objects) for objects in store.state(platform).values()) == 2000


def test_every_model_has_at_least_three_objects(store: Store, platform: Account) -> None:
    counts = {name: len(objects) for name, objects in store.state(platform).items()}

    assert {
        model.name: counts.get(model.name, 0) for model in MODELS if counts.get(model.name, 0) < 3
    } == {}


def test_payments_invoices_and_customers_dominate(store: Store, platform: Account) -> None:
    counts = Counter({name: len(objects) for name, objects in store.state(platform).items()})
    largest = {name for name, _ in counts.most_common(8)}

    assert {"PaymentIntent", "Charge", "BalanceTransaction", "Invoice", "Customer"} <= largest


def test_history_spans_more_than_13_months_and_nothing_is_in_the_future(
    store: Store, platform: Account
) -> None:
    created = [obj["created"] for obj in live_objects(store, platform) if "created" in obj]
    last_90_days = sum(1 for at in created if at > NOW - 90 * DAY)
    first_90_days = sum(1 for at in created if at < min(created) + 90 * DAY)

    assert max(created) <= NOW
    assert max(event["created"] for event in events(platform)) <= NOW
    assert NOW - min(created) > 395 * DAY
    assert last_90_days > first_90_days


# fidelity to the SDK


def sdk_class(object_name: str) -> Any:
    module, name = OBJECT_CLASSES[object_name]
    return getattr(importlib.import_module(module), name)


def annotated_fields(cls: type) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        fields.update(getattr(klass, "__annotations__", {}))
    return fields


def nested_classes(annotation: Any) -> list[type]:
    """The StripeObject classes an annotation names, through Optional, List, Dict and Union."""
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        return [annotation]
    return [cls for arg in typing.get_args(annotation) for cls in nested_classes(arg)]


def is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is dict:
        return True
    return any(is_mapping(arg) for arg in typing.get_args(annotation))


def unknown_fields(obj: Obj, path: str) -> list[str]:
    """Keys of a Stripe object (and of its nested objects) that its SDK class does not know."""
    cls = sdk_class(obj["object"])
    if obj["object"] != cls.OBJECT_NAME:
        return [f"{path}.object={obj['object']} but the SDK says {cls.OBJECT_NAME}"]
    return unknown_keys(obj, cls, path)


def unknown_keys(value: Obj, cls: type, path: str) -> list[str]:
    fields = annotated_fields(cls)
    problems = []
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{path}.{key}")
            continue
        for element in item if isinstance(item, list) else [item]:
            if isinstance(element, dict):
                problems += unknown_nested(element, fields[key], f"{path}.{key}")
    return problems


def unknown_nested(value: Obj, annotation: Any, path: str) -> list[str]:
    object_name = value.get("object")
    if object_name == "list":
        return [p for item in value["data"] for p in unknown_fields(item, f"{path}.data")]
    if object_name in OBJECT_CLASSES:
        return unknown_fields(value, path)
    classes = nested_classes(annotation)
    if len(classes) != 1:
        return []
    if is_mapping(annotation):
        return [
            p
            for key, item in value.items()
            for p in unknown_keys(item, classes[0], f"{path}.{key}")
        ]
    return unknown_keys(value, classes[0], path)


def test_every_stored_object_has_only_fields_the_sdk_class_annotates(store: Store) -> None:
    problems = Counter(
        problem
        for account in store.accounts.values()
        for obj in live_objects(store, account)
        for problem in unknown_fields(obj, obj["object"])
    )

    assert problems == Counter()


def test_every_event_payload_has_only_fields_the_sdk_class_annotates(
    store: Store, platform: Account
) -> None:
    problems = Counter(
        problem
        for event in events(platform)
        for problem in unknown_fields(event["data"]["object"], event["type"])
    )

    assert problems == Counter()


def test_every_catalog_model_has_a_builder() -> None:
    assert set(BUILDERS) == set(MODELS_BY_NAME)


def test_every_catalog_model_is_seeded_with_its_sdk_object_type(
    store: Store, platform: Account
) -> None:
    state = store.state(platform)

    for model in MODELS:
        assert {obj["object"] for obj in state[model.name]} == {model.object}, model.name


def test_ids_are_a_stripe_prefix_and_an_opaque_tail(store: Store, platform: Account) -> None:
    stripe_defined = {"TaxCode", "Capability", "Coupon"}
    malformed = [
        obj["id"]
        for name, objects in store.state(platform).items()
        if name not in stripe_defined
        for obj in objects
        if not re.fullmatch(r"[a-z]+(_[a-z]+)*_1[A-Za-z0-9]{13,23}", obj["id"])
    ]

    assert malformed == []


# consistency


def id_prefix(value: str) -> str | None:
    match = ID_PATTERN.match(value)
    return match[1] if match else None


def referenced_ids(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from referenced_ids(item)
    elif isinstance(value, str) and ID_PATTERN.match(value):
        yield value


def test_every_id_an_object_holds_exists_in_its_account_or_its_connect_platform(
    store: Store, platform: Account
) -> None:
    family = [platform, *(store.accounts[i] for i in platform.connected)]
    known = {obj_id for account in family for obj_id in account.model_of}
    prefixes = {id_prefix(obj_id) for obj_id in known} - {None}
    # A payout goes to the account's own bank account, which no list of the account shows.
    payout_bank = frozenset({"destination"})

    dangling = {
        (obj["id"], obj_id)
        for account in family
        for obj in live_objects(store, account)
        for obj_id in referenced_ids(obj, payout_bank if obj["object"] == "payout" else frozenset())
        if id_prefix(obj_id) in prefixes and obj_id not in known
    }

    assert dangling == set()


def test_references_stay_within_the_account_except_for_connect(
    store: Store, platform: Account
) -> None:
    state = store.state(platform)
    own = platform.objects

    for charge in state["Charge"]:
        assert charge["payment_intent"] in own
        assert charge["customer"] is None or charge["customer"] in own
    for invoice in state["Invoice"]:
        assert invoice["customer"] in own
    for item in state["SubscriptionItem"]:
        assert item["price"]["id"] in own and item["subscription"] in own


def test_a_paid_invoice_has_a_payment_intent_whose_charge_has_a_balance_transaction(
    store: Store, platform: Account
) -> None:
    paid = [
        invoice
        for invoice in store.state(platform)["Invoice"]
        if invoice["status"] == "paid" and invoice["amount_paid"] > 0
    ]

    assert paid
    for invoice in paid:
        (payment,) = invoice["payments"]["data"]
        intent = platform.objects[payment["payment"]["payment_intent"]]
        charge = platform.objects[intent["latest_charge"]]
        transaction = platform.objects[charge["balance_transaction"]]
        assert intent["status"] == "succeeded" and intent["amount"] == invoice["amount_paid"]
        assert charge["paid"] and transaction["source"] == charge["id"]


def test_invoice_totals_are_the_sum_of_their_lines(store: Store, platform: Account) -> None:
    lines = MODELS_BY_NAME["InvoiceLineItem"]

    for invoice in store.state(platform)["Invoice"]:
        amounts = [line["amount"] for line in children(store, platform, invoice["id"], lines)]
        assert invoice["subtotal"] == sum(amounts), invoice["id"]


def test_subscriptions_end_up_in_every_status(store: Store, platform: Account) -> None:
    subscriptions = store.state(platform)["Subscription"]
    statuses = Counter(subscription["status"] for subscription in subscriptions)
    canceled = [s for s in subscriptions if s["status"] == "canceled"]

    assert {"active", "trialing", "past_due", "canceled"} <= set(statuses)
    assert all(s["canceled_at"] and s["ended_at"] for s in canceled)
    assert all(s["trial_end"] > NOW for s in subscriptions if s["status"] == "trialing")


def test_past_due_subscriptions_have_an_open_invoice_with_failed_attempts(
    store: Store, platform: Account
) -> None:
    past_due = [s for s in store.state(platform)["Subscription"] if s["status"] == "past_due"]

    for subscription in past_due:
        invoice = platform.objects[subscription["latest_invoice"]]
        assert invoice["status"] == "open" and invoice["attempt_count"] >= 1


# children and embedded sub-lists


def sub_list_url(model: Model, parent_id: str) -> str:
    if model.parent_param:
        return f"{model.path}?{model.parent_param}={parent_id}"
    return model.list_path(parent_id)


EMBEDDED = [model for model in MODELS if model.embedded]


@pytest.mark.parametrize("model", EMBEDDED, ids=lambda model: model.name)
def test_some_parent_has_more_than_10_children(
    store: Store, platform: Account, model: Model
) -> None:
    parents = store.state(platform)[str(model.parent)]
    sizes = [len(store.children_ids(platform, parent["id"], model)) for parent in parents]

    assert max(sizes) > EMBEDDED_LIMIT


@pytest.mark.parametrize(
    "model", [m for m in EMBEDDED if not m.embedded_on_expand], ids=lambda model: model.name
)
def test_embedded_sub_lists_hold_the_first_10_children_with_has_more_and_url(
    store: Store, platform: Account, model: Model
) -> None:
    for parent in store.state(platform)[str(model.parent)]:
        stored = children(store, platform, parent["id"], model)
        embedded = parent[str(model.embedded)]
        assert embedded["data"] == stored[:EMBEDDED_LIMIT]
        assert embedded["has_more"] == (len(stored) > EMBEDDED_LIMIT)
        assert embedded["url"] == sub_list_url(model, parent["id"])


@pytest.mark.parametrize(
    "model", [m for m in EMBEDDED if m.embedded_on_expand], ids=lambda model: model.name
)
def test_sub_lists_stripe_shows_only_on_expand_are_not_stored_on_the_parent(
    store: Store, platform: Account, model: Model
) -> None:
    for parent in store.state(platform)[str(model.parent)]:
        assert model.embedded not in parent


def test_one_invoice_has_250_lines(store: Store, platform: Account) -> None:
    lines = MODELS_BY_NAME["InvoiceLineItem"]
    sizes = [
        len(store.children_ids(platform, invoice["id"], lines))
        for invoice in store.state(platform)["Invoice"]
    ]

    assert 250 in sizes
    assert sum(1 for size in sizes if 11 <= size <= 40) >= 2


# events


def test_events_reach_back_past_30_days_but_only_the_last_30_days_are_served(
    store: Store, platform: Account
) -> None:
    served = store.list_events(platform, limit=10**6).data
    window = NOW - EVENT_RETENTION_SECONDS

    assert min(event["created"] for event in events(platform)) < NOW - 365 * DAY
    assert served and min(event["created"] for event in served) >= window
    assert len(served) < len(events(platform))


def test_event_ids_are_unique_and_events_are_newest_first(store: Store) -> None:
    all_events = [event for account in store.accounts.values() for event in events(account)]
    times = [event["created"] for event in events(store.accounts["acct_1Emulator0000001"])]

    assert len({event["id"] for event in all_events}) == len(all_events)
    assert times == sorted(times, reverse=True)


def test_every_object_with_a_created_event_type_has_exactly_one_created_event(
    store: Store, platform: Account
) -> None:
    created_types = {
        model.name: {t for t in model.event_types if t.endswith(".created")} for model in MODELS
    }
    created = Counter(
        event["data"]["object"]["id"]
        for event in events(platform)
        if event["type"].endswith(".created")
    )

    for name, objects in store.state(platform).items():
        if created_types[name]:
            assert {created[obj["id"]] for obj in objects} == {1}, name


def test_the_newest_event_about_an_object_carries_its_stored_version(
    store: Store, platform: Account
) -> None:
    newest: dict[str, Obj] = {}
    for event in events(platform):
        newest.setdefault(event["data"]["object"]["id"], event["data"]["object"])

    stale = [
        obj_id
        for obj_id, obj in newest.items()
        if obj_id in platform.model_of and obj != platform.objects[obj_id]
    ]

    assert stale == []


def test_updates_carry_previous_attributes_and_other_events_do_not(
    store: Store, platform: Account
) -> None:
    all_events = events(platform)
    updates = [event for event in all_events if event["type"].endswith(".updated")]

    assert any(
        event["type"] == "customer.updated" and "email" in event["data"]["previous_attributes"]
        for event in updates
    )
    assert any(
        event["type"] == "customer.subscription.updated"
        and event["data"]["previous_attributes"].get("status") == "active"
        for event in updates
    )
    assert all("previous_attributes" in event["data"] for event in updates)
    assert not any(
        "previous_attributes" in event["data"]
        for event in all_events
        if not event["type"].endswith(".updated")
    )


def test_a_paid_invoice_announces_finalization_payment_and_its_charge(
    store: Store, platform: Account
) -> None:
    types = Counter(event["type"] for event in events(platform))

    for event_type in (
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
    ):
        assert types[event_type] > 0, event_type


def test_some_deliveries_failed_and_older_events_keep_older_api_versions(
    store: Store, platform: Account
) -> None:
    all_events = events(platform)
    old = [event for event in all_events if event["created"] < NOW - 400 * DAY]

    assert any(event["pending_webhooks"] > 0 for event in all_events)
    assert old and {event["api_version"] for event in old} == {"2024-06-20"}


@pytest.mark.parametrize(
    "name", ["Customer", "Product", "Price", "Plan", "Coupon", "InvoiceItem", "Invoice"]
)
def test_deleted_objects_are_gone_from_lists_and_state_but_announced(
    store: Store, platform: Account, name: str
) -> None:
    model = MODELS_BY_NAME[name]
    deleted = [
        event["data"]["object"]["id"]
        for event in events(platform)
        if event["type"] == model.delete_events[0]
    ]
    listed = store.list_top_level(platform, model, limit=10**6).data

    assert deleted
    assert not {obj["id"] for obj in listed} & set(deleted)
    assert not {obj["id"] for obj in store.state(platform)[name]} & set(deleted)
    assert all(platform.deleted[obj_id] == model.object for obj_id in deleted)


# Connect


def test_connected_accounts_are_listed_by_the_platform_and_hold_their_own_data(
    store: Store, platform: Account
) -> None:
    listed = {account["id"] for account in store.state(platform)["Account"]}
    with_data = [
        store.accounts[account_id]
        for account_id in platform.connected
        if store.accounts[account_id].model_of
    ]

    assert set(platform.connected) == listed
    assert len(with_data) == 2
    for connected in with_data:
        state = store.state(connected)
        assert connected.platform == platform.id
        assert {"Customer", "Charge", "BalanceTransaction", "Payout"} <= set(state)
        assert all(event["account"] == connected.id for event in events(connected))


def test_persons_external_accounts_and_capabilities_are_children_of_connected_accounts(
    store: Store, platform: Account
) -> None:
    for account in store.state(platform)["Account"]:
        for name in ("Person", "ExternalAccount", "Capability"):
            found = children(store, platform, account["id"], MODELS_BY_NAME[name])
            assert found and {child["account"] for child in found} == {account["id"]}
