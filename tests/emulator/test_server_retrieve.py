"""Retrieving by id and `expand[]` behave as on Stripe."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_source.emulator.runner import RunningEmulator

PLATFORM = "acct_1Platform0000001"


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def stored(emulator: RunningEmulator, obj_id: str) -> dict[str, Any]:
    return emulator.store.accounts[PLATFORM].objects[obj_id]


def test_a_retrieved_object_is_the_stored_object(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    customer = client.v1.customers.retrieve("cus_small004")

    assert customer.to_dict() == stored(small_emulator, "cus_small004")


def test_an_unknown_id_is_stripes_resource_missing_404(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.customers.retrieve("cus_nobody"))

    assert isinstance(error, stripe.InvalidRequestError)
    assert error.http_status == 404
    assert error.json_body == {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": "No such customer: 'cus_nobody'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }


def test_an_id_of_another_kind_of_object_is_not_found_under_this_path(
    client: stripe.StripeClient,
):
    error = error_of(lambda: client.v1.customers.retrieve("sub_small000"))

    assert error.http_status == 404


def test_a_deleted_customer_retrieves_as_a_stub_and_leaves_the_list(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    store = small_emulator.store
    store.delete(store.accounts[PLATFORM], "cus_small005")

    stub = client.v1.customers.retrieve("cus_small005")
    listed = [c.id for c in client.v1.customers.list(params={"limit": 100}).data]

    assert stub.to_dict() == {"id": "cus_small005", "object": "customer", "deleted": True}
    assert "cus_small005" not in listed


def test_children_retrieve_under_their_own_parent_only(client: stripe.StripeClient):
    tax_id = client.v1.customers.tax_ids.retrieve("cus_small001", "txi_small003")
    wrong_parent = error_of(
        lambda: client.v1.customers.tax_ids.retrieve("cus_small002", "txi_small003")
    )

    assert tax_id.id == "txi_small003"
    assert wrong_parent.http_status == 404


def test_subscription_items_retrieve_by_id(client: stripe.StripeClient):
    item = client.v1.subscription_items.retrieve("si_small004")

    assert item.subscription == "sub_small004"


def test_child_kinds_without_a_retrieve_route_are_unrecognized_urls(client: stripe.StripeClient):
    error = error_of(lambda: client.raw_request("get", "/v1/invoices/in_small/lines/il_small001"))

    assert error.http_status == 404
    assert error.user_message.startswith(
        "Unrecognized request URL (GET: /v1/invoices/in_small/lines/il_small001)."
    )


def test_expanding_a_field_replaces_the_id_with_the_object(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    subscription = client.v1.subscriptions.retrieve("sub_small002", params={"expand": ["customer"]})

    assert subscription.customer.to_dict() == stored(small_emulator, "cus_small002")


def test_expanding_on_a_list_uses_the_data_prefix_and_expands_every_item(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    page = client.v1.subscriptions.list(params={"status": "all", "expand": ["data.customer"]})

    for subscription in page.data:
        expected = stored(small_emulator, stored(small_emulator, subscription.id)["customer"])
        assert subscription.customer.to_dict() == expected


def test_nested_expansions_follow_ids_through_expanded_objects(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    subscription = client.v1.subscriptions.retrieve(
        "sub_small001", params={"expand": ["customer.default_source"]}
    )

    assert subscription.customer.id == "cus_small001"
    assert subscription.customer.default_source.to_dict() == stored(small_emulator, "card_small001")


def test_a_null_expandable_field_stays_null(client: stripe.StripeClient):
    customer = client.v1.customers.retrieve("cus_small000", params={"expand": ["default_source"]})

    assert customer.default_source is None


def test_sub_lists_stripe_includes_only_on_request_appear_when_expanded(
    client: stripe.StripeClient,
):
    plain = client.v1.customers.retrieve("cus_small001")
    expanded = client.v1.customers.retrieve("cus_small001", params={"expand": ["tax_ids"]})

    assert "tax_ids" not in plain
    assert len(expanded.tax_ids.data) == 10
    assert expanded.tax_ids.has_more is True
    assert expanded.tax_ids.url == "/v1/customers/cus_small001/tax_ids"
    assert [t.id for t in expanded.tax_ids.auto_paging_iter()] == [
        f"txi_small{i:03d}" for i in range(12)
    ]


def test_expanding_inside_a_sub_list_expands_each_of_its_items(client: stripe.StripeClient):
    page = client.v1.customers.list(params={"limit": 100, "expand": ["data.tax_ids.data.customer"]})

    with_tax_ids = [c for c in page.data if c.tax_ids.data]
    assert [c.id for c in with_tax_ids] == ["cus_small001"]
    assert {t.customer.id for t in with_tax_ids[0].tax_ids.data} == {"cus_small001"}


@pytest.mark.parametrize(
    ("expand", "bad"),
    [
        (["email"], "email"),
        (["nonsense"], "nonsense"),
        (["invoice_settings"], "invoice_settings"),
    ],
)
def test_a_field_that_cannot_be_expanded_is_a_400_naming_it(
    client: stripe.StripeClient, expand: list[str], bad: str
):
    error = error_of(
        lambda: client.v1.customers.retrieve("cus_small001", params={"expand": expand})
    )

    assert error.http_status == 400
    assert error.param == "expand"
    assert error.user_message == f"This property cannot be expanded ({bad})."


def test_a_list_expansion_without_the_data_prefix_is_refused(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.subscriptions.list(params={"expand": ["customer"]}))

    assert error.http_status == 400
    assert error.user_message == "This property cannot be expanded (customer)."


def test_expansions_deeper_than_four_levels_are_refused(client: stripe.StripeClient):
    path = "customer.default_source.customer.default_source.customer"

    error = error_of(
        lambda: client.v1.subscriptions.retrieve("sub_small001", params={"expand": [path]})
    )

    assert error.http_status == 400
    assert "more than 4 levels" in error.user_message
