"""Renewals: advancing the clock with `bill_renewals` bills each period that ends, as Stripe's
billing does on its own, with the events Stripe sends and the objects they name stored."""

from __future__ import annotations

import random

import pytest
import requests
import stripe

from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.emulator.factories import Ids, build_payment_method
from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.seed import add_interval
from stripe_source.emulator.store import Account
from tests.emulator.conftest import DAY, PLATFORM
from tests.emulator.test_writes_billing import PAYMENT_EVENTS, assert_event_snapshots, monthly_price

RENEWAL_EVENTS = [
    "customer.subscription.updated",
    "invoice.created",
    "invoice.finalized",
    *PAYMENT_EVENTS,
]


@pytest.fixture
def account(small_emulator: RunningEmulator) -> Account:
    return small_emulator.store.accounts[PLATFORM]


@pytest.fixture
def payer(small_emulator: RunningEmulator, client: stripe.StripeClient, account: Account) -> str:
    """A customer whose saved card pays their invoices."""
    customer = client.v1.customers.create(params={"email": "pat@example.com"})
    ids = Ids(account.id, account.number, random.Random(5), taken=account.objects.__contains__)
    card = build_payment_method(
        ids, customer=customer.id, created=small_emulator.store.clock.now(), name="Pat", email=None
    )
    small_emulator.store.add(account, MODELS_BY_NAME["PaymentMethod"], card)
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card["id"]}}
    )
    return customer.id


def _renewal_events(client: stripe.StripeClient, after: int) -> list[dict]:
    """Events no request caused (`request.id` null), oldest first, from `after` on."""
    listed = client.raw_request("get", "/v1/events", limit=100).data["data"]
    return [e for e in reversed(listed) if e["request"]["id"] is None and e["created"] >= after]


def test_a_monthly_subscription_is_billed_at_each_period_end_with_its_coupon(
    small_emulator: RunningEmulator, client: stripe.StripeClient, account: Account, payer: str
):
    price = monthly_price(client, "Pro", 2_500)
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    subscription = client.v1.subscriptions.create(
        params={
            "customer": payer,
            "items": [{"price": price, "quantity": 2}],
            "discounts": [{"coupon": coupon.id}],
        }
    )
    started = small_emulator.store.clock.now()
    first_end = add_interval(started, "month")

    small_emulator.advance_clock(45 * DAY, bill_renewals=True)

    events = _renewal_events(client, started)
    assert [e["type"] for e in events] == RENEWAL_EVENTS
    assert all(e["created"] == first_end for e in events)
    assert_event_snapshots(account, events)
    invoice = account.objects[events[1]["data"]["object"]["id"]]
    assert invoice["billing_reason"] == "subscription_cycle"
    assert invoice["status"] == "paid"
    assert invoice["total"] == 2 * 2_500 - 500
    (line,) = invoice["lines"]["data"]
    assert line["period"] == {"start": first_end, "end": add_interval(first_end, "month")}
    stored = account.objects[subscription.id]
    assert stored["latest_invoice"] == invoice["id"]
    items = client.v1.subscription_items.list(params={"subscription": subscription.id}).data
    assert items[0]["current_period_start"] == first_end


def test_a_subscription_set_to_cancel_at_period_end_ends_instead_of_renewing(
    small_emulator: RunningEmulator, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 2_500)
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}]}
    )
    client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    period_end = add_interval(small_emulator.store.clock.now(), "month")

    small_emulator.advance_clock(40 * DAY, bill_renewals=True)

    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled"
    assert ended.ended_at == period_end
    invoices = client.v1.invoices.list(params={"subscription": subscription.id}).data
    assert [i.billing_reason for i in invoices] == ["subscription_create"]


def test_the_clock_endpoint_bills_renewals_only_when_asked(
    small_emulator: RunningEmulator, client: stripe.StripeClient, payer: str
):
    price = monthly_price(client, "Pro", 2_500)
    subscription = client.v1.subscriptions.create(
        params={"customer": payer, "items": [{"price": price}]}
    )
    advance = f"{small_emulator.url}/_emulator/clock/advance"

    requests.post(advance, data={"seconds": 32 * DAY}).raise_for_status()
    assert len(client.v1.invoices.list(params={"subscription": subscription.id}).data) == 1

    requests.post(advance, data={"seconds": DAY, "bill_renewals": "true"}).raise_for_status()
    assert len(client.v1.invoices.list(params={"subscription": subscription.id}).data) == 2
