"""Customer writes change the store and emit the events Stripe would, tagged with the request."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from stripe_source.emulator.runner import RunningEmulator

PLATFORM = "acct_1Platform0000001"


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def newest_event(client: stripe.StripeClient) -> dict[str, Any]:
    return client.v1.events.list(params={"limit": 1}).data[0].to_dict()


def test_creating_a_customer_stores_it_and_emits_customer_created(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    customer = client.v1.customers.create(
        params={"email": "new@example.com", "name": "New", "metadata": {"plan": "gold"}}
    )

    stored = small_emulator.store.accounts[PLATFORM].objects[customer.id]
    event = newest_event(client)
    assert customer.to_dict() == stored
    assert (stored["email"], stored["name"], stored["metadata"]) == (
        "new@example.com",
        "New",
        {"plan": "gold"},
    )
    assert set(stored) <= set(stripe.Customer.__annotations__)
    assert event["type"] == "customer.created"
    assert event["data"]["object"] == stored
    assert event["request"]["id"] == customer.last_response.request_id
    assert client.v1.customers.list().data[0].id == customer.id


def test_updating_a_customer_merges_metadata_and_reports_previous_attributes(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    updated = client.v1.customers.update(
        "cus_small007",
        params={"email": "changed@example.com", "metadata": {"tier": "2", "index": ""}},
    )

    event = newest_event(client)
    assert updated.email == "changed@example.com"
    assert updated.metadata.to_dict() == {"tier": "2"}
    assert event["type"] == "customer.updated"
    assert event["data"]["object"] == updated.to_dict()
    assert event["data"]["previous_attributes"] == {
        "email": "customer7@example.com",
        "metadata": {"index": "7", "tier": None},
    }
    assert event["request"]["id"] == updated.last_response.request_id


def test_an_update_that_changes_nothing_emits_no_event(client: stripe.StripeClient):
    before = newest_event(client)

    client.v1.customers.update("cus_small007", params={"email": "customer7@example.com"})

    assert newest_event(client)["id"] == before["id"]


def test_deleting_a_customer_answers_the_stub_and_emits_customer_deleted(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    before = dict(small_emulator.store.accounts[PLATFORM].objects["cus_small008"])

    deleted = client.v1.customers.delete("cus_small008")

    event = newest_event(client)
    assert deleted.to_dict() == {"id": "cus_small008", "object": "customer", "deleted": True}
    assert event["type"] == "customer.deleted"
    assert event["data"]["object"] == before
    assert client.v1.customers.retrieve("cus_small008").to_dict()["deleted"] is True
    assert "cus_small008" not in [c.id for c in client.v1.customers.list({"limit": 100}).data]


def test_writing_to_a_customer_that_does_not_exist_is_a_404(client: stripe.StripeClient):
    update = error_of(lambda: client.v1.customers.update("cus_nobody", params={"name": "x"}))
    delete = error_of(lambda: client.v1.customers.delete("cus_nobody"))

    assert (update.http_status, update.code) == (404, "resource_missing")
    assert (delete.http_status, delete.code) == (404, "resource_missing")


def test_an_unknown_create_parameter_is_refused_and_nothing_is_stored(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    count = len(small_emulator.store.state(small_emulator.store.accounts[PLATFORM])["Customer"])

    error = error_of(lambda: client.v1.customers.create(params={"favourite_colour": "red"}))

    assert error.http_status == 400
    assert error.user_message == "Received unknown parameter: favourite_colour"
    assert (
        len(small_emulator.store.state(small_emulator.store.accounts[PLATFORM])["Customer"])
        == count
    )


def test_a_write_repeated_with_the_same_idempotency_key_is_replayed_not_repeated(
    small_emulator: RunningEmulator,
):
    def create() -> requests.Response:
        return requests.post(
            f"{small_emulator.url}/v1/customers",
            data={"email": "once@example.com"},
            headers={
                "Authorization": f"Bearer {small_emulator.secret_key}",
                "Idempotency-Key": "create-once",
            },
            timeout=5,
        )

    first, second = create(), create()

    customers = small_emulator.store.state(small_emulator.store.accounts[PLATFORM])["Customer"]
    assert first.json() == second.json()
    assert [c["email"] for c in customers].count("once@example.com") == 1


def test_nested_form_parameters_are_decoded_as_stripe_encodes_them(
    client: stripe.StripeClient,
):
    customer = client.v1.customers.create(
        params={
            "address": {"city": "Lyon", "country": "FR"},
            "preferred_locales": ["fr", "en"],
            "invoice_settings": {"footer": "Merci"},
        }
    )

    assert customer.address.to_dict() == {
        "city": "Lyon",
        "country": "FR",
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }
    assert customer.preferred_locales == ["fr", "en"]
    assert customer.invoice_settings.footer == "Merci"
