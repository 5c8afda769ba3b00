"""Billing writes answer as Stripe does, emit Stripe's events and leave the store consistent.

Each test writes through the official SDK to its own small emulator, then compares the answer,
the events the request caused and every object they name with the store's ground truth.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import requests
import stripe
from stripe._object_classes import get_object_class

from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.emulator.factories import Ids, build_payment_method
from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.store import Account, Obj
from stripe_source.emulator.writes import WriteContext, create_product

PLATFORM = "acct_1Platform0000001"
DAY = 86_400

# Fields holding the id of another object, checked to resolve after each write.
REFERENCE_FIELDS = (
    "balance_transaction",
    "charge",
    "customer",
    "default_payment_method",
    "default_price",
    "invoice",
    "latest_charge",
    "latest_invoice",
    "payment_intent",
    "payment_method",
    "product",
    "source",
    "subscription",
)
SUBSCRIPTION_CREATE_EVENTS = [
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
]
PAYMENT_EVENTS = SUBSCRIPTION_CREATE_EVENTS[3:]


@pytest.fixture
def account(small_emulator: RunningEmulator) -> Account:
    return small_emulator.store.accounts[PLATFORM]


@pytest.fixture
def payer(small_emulator: RunningEmulator, client: stripe.StripeClient, account: Account) -> str:
    """A customer whose saved card is the default payment method for invoices."""
    customer = client.v1.customers.create(params={"email": "pat@example.com", "name": "Pat"})
    ids = Ids(account.id, account.number, random.Random(3), taken=account.objects.__contains__)
    card = build_payment_method(
        ids,
        customer=customer.id,
        created=small_emulator.store.clock.now(),
        name="Pat",
        email="pat@example.com",
    )
    small_emulator.store.add(account, MODELS_BY_NAME["PaymentMethod"], card)
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card["id"]}}
    )
    return customer.id


def default_card(account: Account, customer: str) -> str:
    return account.objects[customer]["invoice_settings"]["default_payment_method"]


def monthly_price(client: stripe.StripeClient, name: str, unit_amount: int) -> str:
    product = client.v1.products.create(params={"name": name})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": unit_amount,
            "recurring": {"interval": "month"},
        }
    )
    return price.id


def one_time_price(client: stripe.StripeClient, unit_amount: int) -> str:
    price = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": unit_amount, "product_data": {"name": "Setup"}}
    )
    return price.id


def sent(answer: Any) -> dict[str, Any]:
    """An answer's JSON as the emulator sent it (the SDK turns decimal strings into Decimals)."""
    return answer.last_response.data


def events_of(client: stripe.StripeClient, answer: Any) -> list[dict[str, Any]]:
    """The events the request that gave `answer` caused, in the order they happened."""
    request_id = answer.last_response.request_id
    listed = client.raw_request("get", "/v1/events", limit=100).data["data"]
    return [e for e in reversed(listed) if e["request"]["id"] == request_id]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def assert_consistent(account: Account, objects: list[Obj]) -> None:
    """Every object has only fields the pinned SDK knows, and every id it names is stored
    (or was deleted through the API, which leaves a stub)."""
    for obj in objects:
        known = set(get_object_class("V1", obj["object"]).__annotations__)
        assert set(obj) <= known, f"{obj['id']} has fields the SDK lacks: {set(obj) - known}"
        for name in REFERENCE_FIELDS:
            value = obj.get(name)
            if isinstance(value, str):
                assert value in account.objects or value in account.deleted, (obj["id"], name)


def assert_event_snapshots(account: Account, events: list[dict[str, Any]]) -> None:
    assert_consistent(account, [event["data"]["object"] for event in events])
    for event in events:
        assert event["id"] in account.objects
        if not event["type"].endswith(".updated"):
            assert "previous_attributes" not in event["data"]


# catalog


def test_creating_a_product_answers_the_stored_product_and_emits_product_created(
    account: Account, client: stripe.StripeClient
):
    product = client.v1.products.create(
        params={
            "name": "Pro",
            "description": "Everything",
            "metadata": {"tier": "3"},
            "marketing_features": [{"name": "SSO"}],
        }
    )

    stored = account.objects[product.id]
    events = events_of(client, product)
    assert sent(product) == stored
    assert (stored["name"], stored["metadata"], stored["marketing_features"]) == (
        "Pro",
        {"tier": "3"},
        [{"name": "SSO"}],
    )
    assert types_of(events) == ["product.created"]
    assert events[0]["data"]["object"] == stored
    assert client.v1.products.list().data[0].id == product.id
    assert_event_snapshots(account, events)


def test_updating_a_product_moves_updated_and_reports_the_old_values_of_what_changed(
    small_emulator: RunningEmulator, account: Account, client: stripe.StripeClient
):
    product = client.v1.products.create(params={"name": "Pro", "metadata": {"tier": "3"}})
    small_emulator.advance_clock(60)

    updated = client.v1.products.update(
        product.id, params={"name": "Pro Plus", "metadata": {"tier": "", "seats": "10"}}
    )

    events = events_of(client, updated)
    assert sent(updated) == account.objects[product.id]
    assert updated.updated == product.updated + 60
    assert types_of(events) == ["product.updated"]
    assert events[0]["data"]["previous_attributes"] == {
        "metadata": {"seats": None, "tier": "3"},
        "name": "Pro",
        "updated": product.updated,
    }


def test_a_product_with_a_price_cannot_be_deleted_but_one_without_prices_can(
    account: Account, client: stripe.StripeClient
):
    priced = client.v1.prices.retrieve(monthly_price(client, "Priced", 1000)).product
    unpriced = client.v1.products.create(params={"name": "Never sold"})
    before = dict(account.objects[unpriced.id])

    refused = error_of(lambda: client.v1.products.delete(priced))
    deleted = client.v1.products.delete(unpriced.id)

    events = events_of(client, deleted)
    assert (refused.http_status, refused.user_message) == (
        400,
        "This product cannot be deleted because it has one or more user-created prices.",
    )
    assert priced in account.objects
    assert deleted.to_dict() == {"id": unpriced.id, "object": "product", "deleted": True}
    assert types_of(events) == ["product.deleted"]
    assert events[0]["data"]["object"] == before
    assert client.v1.products.retrieve(unpriced.id).to_dict()["deleted"] is True
    assert unpriced.id not in [p.id for p in client.v1.products.list({"limit": 100}).data]


def test_a_price_made_with_product_data_announces_its_new_product_first(
    account: Account, client: stripe.StripeClient
):
    price = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 4200, "product_data": {"name": "Kit"}}
    )

    events = events_of(client, price)
    assert types_of(events) == ["product.created", "price.created"]
    assert account.objects[price.product]["name"] == "Kit"
    assert sent(price) == account.objects[price.id]
    assert (price.type, price.recurring) == ("one_time", None)
    assert_event_snapshots(account, events)


def test_a_price_is_archived_with_active_false_because_stripe_cannot_delete_prices(
    account: Account, client: stripe.StripeClient
):
    price_id = monthly_price(client, "Pro", 1000)

    archived = client.v1.prices.update(price_id, params={"active": False})
    no_route = error_of(lambda: client.raw_request("delete", f"/v1/prices/{price_id}"))

    events = events_of(client, archived)
    assert archived.active is False
    assert account.objects[price_id]["active"] is False
    assert types_of(events) == ["price.updated"]
    assert events[0]["data"]["previous_attributes"] == {"active": True}
    assert no_route.http_status == 404
    assert price_id in account.objects


def test_a_lookup_key_moves_to_another_price_only_with_transfer_lookup_key(
    account: Account, client: stripe.StripeClient
):
    old = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "A"}}
    )
    client.v1.prices.update(old.id, params={"lookup_key": "standard"})
    new = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 200, "product_data": {"name": "B"}}
    )

    refused = error_of(lambda: client.v1.prices.update(new.id, params={"lookup_key": "standard"}))
    moved = client.v1.prices.update(
        new.id, params={"lookup_key": "standard", "transfer_lookup_key": True}
    )

    events = events_of(client, moved)
    assert (refused.http_status, refused.param) == (400, "lookup_key")
    assert account.objects[old.id]["lookup_key"] is None
    assert account.objects[new.id]["lookup_key"] == "standard"
    assert [(e["type"], e["data"]["object"]["id"]) for e in events] == [
        ("price.updated", old.id),
        ("price.updated", new.id),
    ]


def test_a_coupon_is_created_renamed_and_deleted(account: Account, client: stripe.StripeClient):
    coupon = client.v1.coupons.create(
        params={"id": "SPRING", "percent_off": 25, "duration": "repeating", "duration_in_months": 3}
    )
    renamed = client.v1.coupons.update("SPRING", params={"name": "Spring sale"})
    before = dict(account.objects["SPRING"])
    deleted = client.v1.coupons.delete("SPRING")

    assert (coupon.id, coupon.percent_off, coupon.duration_in_months) == ("SPRING", 25.0, 3)
    assert types_of(events_of(client, coupon)) == ["coupon.created"]
    assert events_of(client, renamed)[0]["data"]["previous_attributes"] == {"name": None}
    assert deleted.to_dict() == {"id": "SPRING", "object": "coupon", "deleted": True}
    assert events_of(client, deleted)[0]["data"]["object"] == before
    assert "SPRING" not in [c.id for c in client.v1.coupons.list().data]
    assert client.v1.coupons.retrieve("SPRING").to_dict()["deleted"] is True


def test_a_coupon_takes_either_a_percentage_or_an_amount_in_a_currency(
    client: stripe.StripeClient,
):
    both = error_of(lambda: client.v1.coupons.create(params={"percent_off": 5, "amount_off": 5}))
    no_currency = error_of(lambda: client.v1.coupons.create(params={"amount_off": 500}))

    assert (both.http_status, both.param) == (400, "amount_off")
    assert (no_currency.http_status, no_currency.code, no_currency.param) == (
        400,
        "parameter_missing",
        "currency",
    )


def test_a_promotion_code_names_its_coupon_and_is_deactivated_rather_than_deleted(
    account: Account, client: stripe.StripeClient
):
    coupon = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd"})
    promotion = {"type": "coupon", "coupon": coupon.id}

    code = client.v1.promotion_codes.create(params={"promotion": promotion, "code": "FIVE"})
    duplicate = error_of(
        lambda: client.v1.promotion_codes.create(params={"promotion": promotion, "code": "FIVE"})
    )
    deactivated = client.v1.promotion_codes.update(code.id, params={"active": False})

    assert code.to_dict()["promotion"] == {"coupon": coupon.id, "type": "coupon"}
    assert types_of(events_of(client, code)) == ["promotion_code.created"]
    assert (duplicate.http_status, duplicate.param) == (400, "code")
    assert events_of(client, deactivated)[0]["data"]["previous_attributes"] == {"active": True}
    assert account.objects[code.id]["active"] is False


def test_a_tax_rate_is_archived_with_active_false_and_stays_listed(
    account: Account, client: stripe.StripeClient
):
    rate = client.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 20, "inclusive": False, "country": "FR"}
    )

    archived = client.v1.tax_rates.update(rate.id, params={"active": False})

    assert types_of(events_of(client, rate)) == ["tax_rate.created"]
    assert events_of(client, archived)[0]["data"]["previous_attributes"] == {"active": True}
    assert sent(archived) == account.objects[rate.id]
    listed = client.v1.tax_rates.list(params={"active": False}).data
    assert [r.id for r in listed] == [rate.id]


# subscriptions


def test_a_new_subscription_bills_its_first_invoice_and_charges_the_default_card(
    account: Account, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)

    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price, "quantity": 2}]}
    )

    events = events_of(client, subscription)
    stored = account.objects[subscription.id]
    invoice = account.objects[stored["latest_invoice"]]
    intent = account.objects[invoice["payments"]["data"][0]["payment"]["payment_intent"]]
    charge = account.objects[intent["latest_charge"]]
    transaction = account.objects[charge["balance_transaction"]]
    (item,) = stored["items"]["data"]
    (line,) = invoice["lines"]["data"]
    assert sent(subscription) == stored
    assert (stored["status"], item["quantity"], item["price"]["id"]) == ("active", 2, price)
    assert types_of(events) == SUBSCRIPTION_CREATE_EVENTS
    assert [e["data"]["object"]["status"] for e in events[1:3]] == ["draft", "open"]
    assert (invoice["status"], invoice["amount_paid"], invoice["billing_reason"]) == (
        "paid",
        2000,
        "subscription_create",
    )
    assert line["parent"]["subscription_item_details"]["subscription_item"] == item["id"]
    assert line["description"] == "2 × Pro (at $10.00 / month)"
    assert (intent["status"], intent["amount_received"], charge["amount"]) == (
        "succeeded",
        2000,
        2000,
    )
    assert charge["payment_method"] == default_card(account, payer)
    assert (transaction["amount"], transaction["net"]) == (2000, 2000 - transaction["fee"])
    assert_consistent(account, [stored, item, invoice, line, intent, charge, transaction])
    assert_event_snapshots(account, events)


def test_a_trialing_subscription_gets_a_zero_invoice_paid_without_any_payment(
    account: Account, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)

    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}], "trial_period_days": 14}
    )

    invoice = account.objects[subscription.latest_invoice]
    assert subscription.status == "trialing"
    assert subscription.trial_end == subscription.created + 14 * DAY
    assert subscription["items"].data[0].current_period_end == subscription.trial_end
    assert (invoice["status"], invoice["total"], invoice["payments"]) == ("paid", 0, None)
    assert invoice["lines"]["data"][0]["description"] == "Trial period for Pro"
    assert types_of(events_of(client, subscription)) == [
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_a_subscription_billed_by_sent_invoice_leaves_its_first_invoice_open_until_due(
    account: Account, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)

    subscription = client.v1.subscriptions.create(
        params={
            "customer": payer,
            "items": [{"price": price}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "expand": ["latest_invoice"],
        }
    )

    invoice = account.objects[subscription.latest_invoice.id]
    assert sent(subscription)["latest_invoice"] == invoice
    assert (subscription.status, invoice["status"], invoice["amount_remaining"]) == (
        "active",
        "open",
        1000,
    )
    assert invoice["due_date"] == invoice["created"] + 30 * DAY
    assert types_of(events_of(client, subscription)) == SUBSCRIPTION_CREATE_EVENTS[:3]


def test_cancel_at_period_end_schedules_the_end_and_reports_what_it_changed(
    small_emulator: RunningEmulator, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}]}
    )

    ending = client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})

    (event,) = events_of(client, ending)
    assert ending.status == "active"
    assert ending.cancel_at == subscription["items"].data[0].current_period_end
    assert event["data"]["previous_attributes"] == {
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    }
    assert event["data"]["object"] == small_emulator.store.accounts[PLATFORM].objects[ending.id]


def test_a_subscription_for_a_customer_with_nothing_to_charge_is_refused_and_nothing_is_stored(
    small_emulator: RunningEmulator, account: Account, client: stripe.StripeClient
):
    price = monthly_price(client, "Pro", 1000)
    customer = client.v1.customers.create(params={"email": "nocard@example.com"})
    state_before = {name: len(objs) for name, objs in small_emulator.store.state(account).items()}

    error = error_of(
        lambda: client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": price}]}
        )
    )

    state_after = {name: len(objs) for name, objs in small_emulator.store.state(account).items()}
    assert error.http_status == 400
    assert "no attached payment source or default payment method" in error.user_message
    assert state_after == state_before


def test_a_coupon_on_a_subscription_takes_its_share_off_the_first_invoice(
    account: Account, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)
    coupon = client.v1.coupons.create(params={"percent_off": 25})

    subscription = client.v1.subscriptions.create(
        params={
            "customer": payer,
            "items": [{"price": price, "quantity": 2}],
            "discounts": [{"coupon": coupon.id}],
        }
    )

    (discount,) = subscription.discounts
    invoice = account.objects[subscription.latest_invoice]
    assert (invoice["subtotal"], invoice["total"], invoice["amount_paid"]) == (2000, 1500, 1500)
    assert invoice["total_discount_amounts"] == [{"amount": 500, "discount": discount}]
    assert invoice["lines"]["data"][0]["discount_amounts"] == [
        {"amount": 500, "discount": discount}
    ]
    assert account.objects[coupon.id]["times_redeemed"] == 1


def test_updating_a_subscription_changes_adds_and_removes_items_and_reports_the_old_items(
    account: Account, client: stripe.StripeClient, payer: str
):
    basic, support, storage = (
        monthly_price(client, name, amount)
        for name, amount in (("Basic", 1000), ("Support", 300), ("Storage", 200))
    )
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": basic}, {"price": support}]}
    )
    kept, removed = (item.id for item in subscription["items"].data)
    old_items = account.objects[subscription.id]["items"]

    updated = client.v1.subscriptions.update(
        subscription.id,
        params={
            "items": [
                {"id": kept, "quantity": 3},
                {"id": removed, "deleted": True},
                {"price": storage},
            ]
        },
    )

    events = events_of(client, updated)
    stored = account.objects[subscription.id]
    assert sent(updated) == stored
    assert [(i["price"]["id"], i["quantity"]) for i in stored["items"]["data"]] == [
        (basic, 3),
        (storage, 1),
    ]
    assert types_of(events) == ["customer.subscription.updated"]
    assert events[0]["data"]["previous_attributes"] == {"items": old_items}
    assert client.v1.subscription_items.retrieve(removed).to_dict() == {
        "id": removed,
        "object": "subscription_item",
        "deleted": True,
    }
    listed = client.v1.subscription_items.list(params={"subscription": subscription.id}).data
    assert [i.id for i in listed] == [i["id"] for i in stored["items"]["data"]]
    assert removed not in [e["data"]["object"]["id"] for e in events]


def test_each_subscription_item_write_announces_its_subscription_as_updated(
    account: Account, client: stripe.StripeClient, payer: str
):
    basic, extra = monthly_price(client, "Basic", 1000), monthly_price(client, "Extra", 100)
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": basic}]}
    )
    (first,) = subscription["items"].data

    added = client.v1.subscription_items.create(
        params={"subscription": subscription.id, "price": extra, "quantity": 4}
    )
    changed = client.v1.subscription_items.update(added.id, params={"quantity": 5})
    removed = client.v1.subscription_items.delete(added.id)
    last = error_of(lambda: client.v1.subscription_items.delete(first.id))

    for answer in (added, changed, removed):
        (event,) = events_of(client, answer)
        assert event["type"] == "customer.subscription.updated"
        assert event["data"]["object"]["id"] == subscription.id
        assert set(event["data"]["previous_attributes"]) == {"items"}
    assert added.to_dict()["current_period_end"] == first.current_period_end
    assert changed.quantity == 5
    assert removed.to_dict() == {"id": added.id, "object": "subscription_item", "deleted": True}
    assert last.http_status == 400
    assert [i["id"] for i in account.objects[subscription.id]["items"]["data"]] == [first.id]


def test_a_canceled_subscription_still_exists_and_is_listed_with_status_all(
    small_emulator: RunningEmulator, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}]}
    )

    canceled = client.v1.subscriptions.cancel(
        subscription.id, params={"cancellation_details": {"comment": "Too expensive"}}
    )
    adding = error_of(
        lambda: client.v1.subscriptions.update(
            subscription.id, params={"items": [{"price": price}]}
        )
    )

    events = events_of(client, canceled)
    now = small_emulator.store.clock.now()
    assert canceled.status == "canceled"
    assert now - 2 <= canceled.canceled_at == canceled.ended_at <= now
    assert canceled.cancellation_details.comment == "Too expensive"
    assert types_of(events) == ["customer.subscription.deleted"]
    assert "previous_attributes" not in events[0]["data"]
    assert subscription.id not in [s.id for s in client.v1.subscriptions.list().data]
    listed = client.v1.subscriptions.list(params={"status": "all", "customer": payer}).data
    assert [s.id for s in listed] == [subscription.id]
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert adding.http_status == 400


def test_a_subscription_create_repeated_with_one_idempotency_key_is_replayed_not_repeated(
    account: Account, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)
    params = {"customer": payer, "items": [{"price": price}]}

    first = client.v1.subscriptions.create(params=params, options={"idempotency_key": "once"})
    second = client.v1.subscriptions.create(params=params, options={"idempotency_key": "once"})

    subscriptions = [
        s
        for s in account.objects.values()
        if s.get("object") == "subscription" and s["customer"] == payer
    ]
    assert sent(first) == sent(second)
    assert [s["id"] for s in subscriptions] == [first.id]
    assert events_of(client, second) == []


# invoices


def test_an_invoice_of_twelve_pending_items_embeds_ten_lines_and_pages_the_rest(
    account: Account, client: stripe.StripeClient, payer: str
):
    items = [
        client.v1.invoice_items.create(
            params={"customer": payer, "amount": 100 * n, "currency": "usd"}
        )
        for n in range(1, 13)
    ]

    invoice = client.v1.invoices.create(
        params={"customer": payer, "pending_invoice_items_behavior": "include"}
    )

    stored = account.objects[invoice.id]
    lines = list(client.v1.invoices.line_items.list(invoice.id).auto_paging_iter())
    line_model = MODELS_BY_NAME["InvoiceLineItem"]
    (event,) = events_of(client, invoice)
    assert sent(invoice) == stored
    assert (len(stored["lines"]["data"]), stored["lines"]["has_more"]) == (10, True)
    assert [line.id for line in lines] == account.children[(invoice.id, line_model.name)].ids
    assert [line.parent.invoice_item_details.invoice_item for line in lines] == [
        item.id for item in items
    ]
    assert stored["amount_due"] == sum(100 * n for n in range(1, 13))
    assert all(account.objects[item.id]["invoice"] == invoice.id for item in items)
    assert event["type"] == "invoice.created"
    assert len(event["data"]["object"]["lines"]["data"]) == 10
    assert_consistent(account, [stored, *(account.objects[line.id] for line in lines)])


def test_pending_invoice_items_stay_out_of_a_new_invoice_unless_asked_for(
    account: Account, client: stripe.StripeClient, payer: str
):
    item = client.v1.invoice_items.create(
        params={"customer": payer, "amount": 500, "currency": "usd"}
    )

    invoice = client.v1.invoices.create(params={"customer": payer})

    assert invoice.lines.data == []
    assert invoice.amount_due == 0
    assert account.objects[item.id]["invoice"] is None


def test_an_invoice_item_joining_a_draft_becomes_a_line_and_updates_the_draft(
    account: Account, client: stripe.StripeClient, payer: str
):
    invoice = client.v1.invoices.create(params={"customer": payer})
    empty = dict(account.objects[invoice.id])

    item = client.v1.invoice_items.create(
        params={
            "customer": payer,
            "invoice": invoice.id,
            "pricing": {"price": one_time_price(client, 2500)},
            "quantity": 2,
        }
    )
    with_line = dict(account.objects[invoice.id])
    deleted = client.v1.invoice_items.delete(item.id)

    added_events, deleted_events = events_of(client, item), events_of(client, deleted)
    assert types_of(added_events) == ["invoiceitem.created", "invoice.updated"]
    assert added_events[1]["data"]["previous_attributes"] == {
        key: empty[key] for key in empty if empty[key] != with_line[key]
    }
    assert with_line["amount_due"] == 5000
    assert with_line["lines"]["data"][0]["pricing"] == sent(item)["pricing"]
    assert types_of(deleted_events) == ["invoiceitem.deleted", "invoice.updated"]
    assert account.objects[invoice.id]["lines"]["data"] == []
    assert account.objects[invoice.id]["amount_due"] == 0


def test_deleting_a_draft_invoice_takes_its_lines_and_items_with_it(
    account: Account, client: stripe.StripeClient, payer: str
):
    for amount in (100, 200):
        client.v1.invoice_items.create(
            params={"customer": payer, "amount": amount, "currency": "usd"}
        )
    invoice = client.v1.invoices.create(
        params={"customer": payer, "pending_invoice_items_behavior": "include"}
    )
    lines = invoice.lines.data

    deleted = client.v1.invoices.delete(invoice.id)

    assert deleted.to_dict() == {"id": invoice.id, "object": "invoice", "deleted": True}
    assert types_of(events_of(client, deleted)) == [
        "invoiceitem.deleted",
        "invoiceitem.deleted",
        "invoice.deleted",
    ]
    for line in lines:
        assert line.id in account.deleted
        assert line.parent.invoice_item_details.invoice_item in account.deleted
    assert client.v1.invoices.retrieve(invoice.id).to_dict()["deleted"] is True
    assert invoice.id not in [i.id for i in client.v1.invoices.list({"limit": 100}).data]


def test_finalizing_numbers_an_invoice_and_paying_charges_the_default_card(
    account: Account, client: stripe.StripeClient, payer: str
):
    client.v1.invoice_items.create(params={"customer": payer, "amount": 4200, "currency": "usd"})
    draft = client.v1.invoices.create(
        params={"customer": payer, "pending_invoice_items_behavior": "include"}
    )

    finalized = client.v1.invoices.finalize_invoice(draft.id)
    paid = client.v1.invoices.pay(draft.id)

    stored = account.objects[draft.id]
    intent = account.objects[stored["payments"]["data"][0]["payment"]["payment_intent"]]
    prefix = account.objects[payer]["invoice_prefix"]
    assert (finalized.status, finalized.number) == ("open", f"{prefix}-0001")
    assert types_of(events_of(client, finalized)) == ["invoice.finalized"]
    assert sent(paid) == stored
    assert (stored["status"], stored["amount_paid"], stored["amount_remaining"]) == (
        "paid",
        4200,
        0,
    )
    assert types_of(events_of(client, paid)) == PAYMENT_EVENTS
    assert intent["description"] == "Payment for Invoice"
    assert_consistent(account, [stored, intent, account.objects[intent["latest_charge"]]])


def test_a_void_invoice_cannot_be_paid_and_a_paid_one_cannot_be_voided(
    account: Account, client: stripe.StripeClient, payer: str
):
    client.v1.invoice_items.create(params={"customer": payer, "amount": 900, "currency": "usd"})
    voided = client.v1.invoices.create(
        params={"customer": payer, "pending_invoice_items_behavior": "include"}
    )
    client.v1.invoices.finalize_invoice(voided.id)
    client.v1.invoice_items.create(params={"customer": payer, "amount": 700, "currency": "usd"})
    paid = client.v1.invoices.create(
        params={"customer": payer, "pending_invoice_items_behavior": "include"}
    )
    client.v1.invoices.pay(paid.id)

    void = client.v1.invoices.void_invoice(voided.id)
    pay_void = error_of(lambda: client.v1.invoices.pay(voided.id))
    void_paid = error_of(lambda: client.v1.invoices.void_invoice(paid.id))
    pay_twice = error_of(lambda: client.v1.invoices.pay(paid.id))
    refinalize = error_of(lambda: client.v1.invoices.finalize_invoice(paid.id))

    assert (void.status, void.status_transitions.voided_at is not None) == ("void", True)
    assert types_of(events_of(client, void)) == ["invoice.voided"]
    assert (pay_void.http_status, pay_void.user_message) == (400, "Voided invoices cannot be paid.")
    assert (pay_twice.http_status, pay_twice.user_message) == (400, "Invoice is already paid.")
    assert void_paid.http_status == refinalize.http_status == 400
    assert account.objects[voided.id]["status"] == "void"
    assert account.objects[paid.id]["status"] == "paid"


def test_a_sent_invoice_needs_a_due_date_and_charged_ones_have_none(
    client: stripe.StripeClient, payer: str
):
    no_due_date = error_of(
        lambda: client.v1.invoices.create(
            params={"customer": payer, "collection_method": "send_invoice"}
        )
    )

    sent = client.v1.invoices.create(
        params={"customer": payer, "collection_method": "send_invoice", "days_until_due": 30}
    )

    assert (no_due_date.http_status, no_due_date.param) == (400, "days_until_due")
    assert sent.due_date == sent.created + 30 * DAY


# payments


def test_a_payment_intent_confirmed_with_a_test_card_settles_with_a_charge_and_a_transaction(
    account: Account, client: stripe.StripeClient
):
    intent = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})

    confirmed = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )
    again = error_of(lambda: client.v1.payment_intents.confirm(intent.id))

    charge = account.objects[confirmed.latest_charge]
    card = account.objects[confirmed.payment_method]
    transaction = account.objects[charge["balance_transaction"]]
    assert intent.status == "requires_payment_method"
    assert types_of(events_of(client, intent)) == ["payment_intent.created"]
    assert sent(confirmed) == account.objects[intent.id]
    assert (confirmed.status, confirmed.amount_received) == ("succeeded", 2500)
    assert types_of(events_of(client, confirmed)) == [
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert (card["object"], card["customer"], charge["payment_method"]) == (
        "payment_method",
        None,
        card["id"],
    )
    assert (transaction["type"], transaction["status"], transaction["amount"]) == (
        "charge",
        "pending",
        2500,
    )
    assert (again.http_status, again.code) == (400, "payment_intent_unexpected_state")
    assert_consistent(account, [sent(confirmed), charge, card, transaction])


def test_a_payment_intent_is_canceled_until_it_succeeds(
    account: Account, client: stripe.StripeClient
):
    open_intent = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    settled = client.v1.payment_intents.create(
        params={"amount": 900, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )

    canceled = client.v1.payment_intents.cancel(
        open_intent.id, params={"cancellation_reason": "abandoned"}
    )
    refused = error_of(lambda: client.v1.payment_intents.cancel(settled.id))

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert types_of(events_of(client, canceled)) == ["payment_intent.canceled"]
    assert types_of(events_of(client, settled)) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert (refused.http_status, refused.code) == (400, "payment_intent_unexpected_state")
    assert account.objects[settled.id]["status"] == "succeeded"


def test_refunds_update_their_charge_and_book_negative_balance_transactions(
    account: Account, client: stripe.StripeClient
):
    intent = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )

    partial = client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 2000})
    too_much = error_of(
        lambda: client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 3001})
    )
    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    again = error_of(lambda: client.v1.refunds.create(params={"payment_intent": intent.id}))

    charge = account.objects[intent.latest_charge]
    events = events_of(client, partial)
    assert (partial.amount, rest.amount) == (2000, 3000)
    assert types_of(events) == ["refund.created", "charge.refunded"]
    assert events[1]["data"]["object"]["amount_refunded"] == 2000
    assert events[1]["data"]["object"]["refunded"] is False
    assert (charge["amount_refunded"], charge["refunded"]) == (5000, True)
    for refund in (partial, rest):
        transaction = account.objects[refund.balance_transaction]
        assert (transaction["type"], transaction["amount"], transaction["source"]) == (
            "refund",
            -refund.amount,
            refund.id,
        )
        assert sent(refund) == account.objects[refund.id]
    assert (too_much.http_status, too_much.param) == (400, "amount")
    assert (again.http_status, again.code) == (400, "charge_already_refunded")
    assert_consistent(account, [sent(partial), sent(rest), charge])


# across writes


def test_objects_written_after_the_clock_advances_carry_the_new_time(
    small_emulator: RunningEmulator, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 1000)
    requests.post(
        f"{small_emulator.url}/_emulator/clock/advance", data={"seconds": 10 * DAY}, timeout=5
    ).raise_for_status()

    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}]}
    )

    now = small_emulator.store.clock.now()
    invoice = client.v1.invoices.retrieve(subscription.latest_invoice)
    events = events_of(client, subscription)
    assert now - 2 <= subscription.created <= now
    assert subscription.created >= client.v1.prices.retrieve(price).created + 10 * DAY
    assert invoice.created == invoice.status_transitions.paid_at == subscription.created
    assert {event["created"] for event in events} == {subscription.created}


def test_a_restricted_key_cannot_write_billing_objects(
    small_emulator: RunningEmulator, account: Account
):
    restricted = small_emulator.client(small_emulator.keys(1).restricted, max_network_retries=0)
    products_before = len(small_emulator.store.state(account)["Product"])

    error = error_of(lambda: restricted.v1.products.create(params={"name": "Nope"}))

    assert error.http_status == 403
    assert "rak_product_write" in error.user_message
    assert len(small_emulator.store.state(account)["Product"]) == products_before


def test_events_of_a_write_carry_the_idempotency_key_it_was_sent_with(
    small_emulator: RunningEmulator, account: Account
):
    """The HTTP layer hands a write the request's `Idempotency-Key`; events keep it."""
    context = WriteContext(
        small_emulator.store, account, {"name": "Kit"}, {}, "req_test", idempotency_key="kit-1"
    )

    product = create_product(context)

    event = account.objects[next(account.events.ids(0, 1))]
    assert event["data"]["object"] == product
    assert event["request"] == {"id": "req_test", "idempotency_key": "kit-1"}


def test_missing_and_unknown_references_give_stripes_errors(
    client: stripe.StripeClient, payer: str
):
    no_customer = error_of(lambda: client.v1.subscriptions.create(params={"items": []}))
    unknown_customer = error_of(
        lambda: client.v1.subscriptions.create(
            params={"customer": "cus_nobody", "items": [{"price": "price_nobody"}]}
        )
    )
    unknown_price = error_of(
        lambda: client.v1.subscriptions.create(
            params={"customer": payer, "items": [{"price": "price_nobody"}]}
        )
    )
    unknown_invoice = error_of(lambda: client.v1.invoices.pay("in_nobody"))

    assert (no_customer.http_status, no_customer.code, no_customer.param) == (
        400,
        "parameter_missing",
        "customer",
    )
    assert (unknown_customer.http_status, unknown_customer.code, unknown_customer.param) == (
        404,
        "resource_missing",
        "customer",
    )
    assert unknown_customer.user_message == "No such customer: 'cus_nobody'"
    assert (unknown_price.http_status, unknown_price.param) == (404, "items[0][price]")
    assert (unknown_invoice.http_status, unknown_invoice.code) == (404, "resource_missing")
