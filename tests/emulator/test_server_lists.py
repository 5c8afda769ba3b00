"""List endpoints page, filter and refuse parameters the way Stripe does, seen through the SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_source.emulator.runner import RunningEmulator

PLATFORM = "acct_1Platform0000001"


def newest_first(objects: list[dict[str, Any]]) -> list[str]:
    """Stripe's list order, computed independently: newest `created` first, and among objects
    created in the same second the one stored later first."""
    ranked = sorted(enumerate(objects), key=lambda pair: (-pair[1]["created"], -pair[0]))
    return [obj["id"] for _, obj in ranked]


def visible_customers(emulator: RunningEmulator) -> list[dict[str, Any]]:
    customers = emulator.store.state(emulator.store.accounts[PLATFORM])["Customer"]
    return [c for c in customers if c.get("test_clock") is None]


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def test_walking_forward_with_starting_after_visits_every_customer_once_newest_first(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    expected = newest_first(visible_customers(small_emulator))

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = client.v1.customers.list(params=params)
        seen += [c.id for c in page.data]
        assert len(page.data) <= 7
        if not page.has_more:
            break
        params = {"limit": 7, "starting_after": page.data[-1].id}

    assert seen == expected


def test_walking_backward_with_ending_before_visits_every_newer_customer_in_order(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    expected = newest_first(visible_customers(small_emulator))

    seen: list[str] = []
    cursor = expected[-1]
    while True:
        page = client.v1.customers.list(params={"limit": 7, "ending_before": cursor})
        seen = [c.id for c in page.data] + seen
        if not page.has_more:
            break
        cursor = page.data[0].id

    assert seen == expected[:-1]


def test_the_sdks_auto_paging_reaches_the_same_customers(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    pages = client.v1.customers.list(params={"limit": 7}).auto_paging_iter()

    assert [c.id for c in pages] == newest_first(visible_customers(small_emulator))


def test_a_list_answers_with_stripes_envelope_and_the_default_limit_of_ten(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    page = client.v1.customers.list()

    assert page.object == "list"
    assert page.url == "/v1/customers"
    assert page.has_more is True
    assert [c.id for c in page.data] == newest_first(visible_customers(small_emulator))[:10]


@pytest.mark.parametrize(
    "bounds",
    [
        {"gt": 11},
        {"gte": 11},
        {"lt": 11},
        {"lte": 11},
        {"gte": 4, "lt": 11},
        {"gt": 4, "lte": 11},
        {"gt": 11, "lt": 4},
        "exact",
    ],
    ids=lambda b: "exact" if b == "exact" else "&".join(f"{k}{v}" for k, v in b.items()),
)
def test_created_filters_return_exactly_the_customers_within_the_bounds(
    small_emulator: RunningEmulator, client: stripe.StripeClient, bounds: Any
):
    # Customers are created in pairs sharing a second; bounds sit on a shared second.
    customers = visible_customers(small_emulator)
    times = sorted({c["created"] for c in customers})
    if bounds == "exact":
        created: Any = times[7]
        keep = [c for c in customers if c["created"] == created]
    else:
        created = {op: times[index] for op, index in bounds.items()}
        keep = [c for c in customers if _within(c["created"], created)]

    page = client.v1.customers.list(params={"limit": 100, "created": created})

    assert [c.id for c in page.data] == newest_first(keep)
    assert page.has_more is False


def _within(value: int, bounds: dict[str, int]) -> bool:
    checks = {
        "gt": value > bounds.get("gt", value - 1),
        "gte": value >= bounds.get("gte", value),
        "lt": value < bounds.get("lt", value + 1),
        "lte": value <= bounds.get("lte", value),
    }
    return all(checks.values())


def test_a_created_filter_with_paging_stays_within_the_bounds(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    customers = visible_customers(small_emulator)
    pivot = sorted({c["created"] for c in customers})[5]

    pages = client.v1.customers.list(params={"limit": 3, "created": {"gte": pivot}})

    expected = newest_first([c for c in customers if c["created"] >= pivot])
    assert [c.id for c in pages.auto_paging_iter()] == expected


def test_created_is_an_unknown_parameter_where_stripe_does_not_filter_by_it(
    client: stripe.StripeClient,
):
    error = error_of(lambda: client.v1.payment_methods.list(params={"created": {"gt": 1}}))

    assert isinstance(error, stripe.InvalidRequestError)
    assert error.http_status == 400
    assert error.user_message == "Received unknown parameter: created"
    assert error.param == "created"
    assert error.code == "parameter_unknown"


def test_any_parameter_an_endpoint_does_not_know_is_refused_by_name(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.customers.list(params={"colour": "blue"}))

    assert error.http_status == 400
    assert error.user_message == "Received unknown parameter: colour"


def test_an_unknown_bound_inside_created_is_refused_with_its_full_name(
    client: stripe.StripeClient,
):
    error = error_of(lambda: client.v1.customers.list(params={"created": {"after": 5}}))

    assert error.user_message == "Received unknown parameter: created[after]"


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (0, "This value must be greater than or equal to 1."),
        (101, "This value must be less than or equal to 100."),
        ("ten", "Invalid integer: ten"),
        ("2.5", "Invalid integer: 2.5"),
    ],
)
def test_a_limit_outside_1_to_100_or_not_an_integer_is_a_400_naming_limit(
    client: stripe.StripeClient, limit: Any, message: str
):
    error = error_of(lambda: client.v1.customers.list(params={"limit": limit}))

    assert isinstance(error, stripe.InvalidRequestError)
    assert error.http_status == 400
    assert error.param == "limit"
    assert error.user_message == message


def test_limits_of_1_and_100_are_accepted(client: stripe.StripeClient):
    assert len(client.v1.customers.list(params={"limit": 1}).data) == 1
    assert len(client.v1.customers.list(params={"limit": 100}).data) == 30


def test_starting_after_and_ending_before_together_are_refused(client: stripe.StripeClient):
    params = {"starting_after": "cus_small001", "ending_before": "cus_small009"}

    error = error_of(lambda: client.v1.customers.list(params=params))

    assert error.http_status == 400
    assert error.user_message == (
        "You may only specify one of these parameters: ending_before, starting_after."
    )


def test_a_cursor_naming_no_such_object_is_a_404_naming_the_cursor(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.customers.list(params={"starting_after": "cus_gone"}))

    assert error.http_status == 404
    assert error.code == "resource_missing"
    assert error.param == "starting_after"
    assert error.user_message == "No such customer: 'cus_gone'"


def test_subscriptions_hide_canceled_ones_unless_status_all_is_asked_for(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    subscriptions = small_emulator.store.state(small_emulator.store.accounts[PLATFORM])[
        "Subscription"
    ]

    default = client.v1.subscriptions.list(params={"limit": 100})
    every = client.v1.subscriptions.list(params={"limit": 100, "status": "all"})
    canceled = client.v1.subscriptions.list(params={"limit": 100, "status": "canceled"})

    assert [s.id for s in default.data] == newest_first(
        [s for s in subscriptions if s["status"] != "canceled"]
    )
    assert [s.id for s in every.data] == newest_first(subscriptions)
    assert [s.id for s in canceled.data] == newest_first(
        [s for s in subscriptions if s["status"] == "canceled"]
    )


def test_an_unknown_subscription_status_is_refused(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.subscriptions.list(params={"status": "sleeping"}))

    assert error.http_status == 400
    assert error.param == "status"


def test_subscriptions_filter_by_the_price_of_their_items(client: stripe.StripeClient):
    active = client.v1.subscriptions.list(params={"price": "price_small0"})
    every = client.v1.subscriptions.list(params={"price": "price_small0", "status": "all"})

    assert [s.id for s in active.data] == ["sub_small000"]
    assert [s.id for s in every.data] == ["sub_small003", "sub_small000"]


def test_customers_on_test_clocks_are_listed_only_when_their_clock_is_named(
    client: stripe.StripeClient,
):
    default = client.v1.customers.list(params={"limit": 100})
    on_clock = client.v1.customers.list(params={"test_clock": "clock_1"})

    assert "cus_onclock" not in [c.id for c in default.data]
    assert [c.id for c in on_clock.data] == ["cus_onclock"]


def test_payment_methods_filter_by_customer_with_or_without_type(client: stripe.StripeClient):
    by_customer = client.v1.payment_methods.list(params={"customer": "cus_small002"})
    by_type = client.v1.payment_methods.list(params={"customer": "cus_small002", "type": "card"})

    assert [p.id for p in by_customer.data] == [
        "pm_small003",
        "pm_small002",
        "pm_small001",
        "pm_small000",
    ]
    assert [p.id for p in by_type.data] == ["pm_small002", "pm_small000"]


def test_prices_filter_by_active(client: stripe.StripeClient):
    active = client.v1.prices.list(params={"active": True})
    inactive = client.v1.prices.list(params={"active": False})

    assert [p.id for p in active.data] == ["price_small2", "price_small0"]
    assert [p.id for p in inactive.data] == ["price_small1"]


def test_children_list_under_their_parent_in_the_parents_order(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    tax_ids = client.v1.customers.tax_ids.list("cus_small001", params={"limit": 5})

    assert tax_ids.url == "/v1/customers/cus_small001/tax_ids"
    assert [t.id for t in tax_ids.auto_paging_iter()] == [f"txi_small{i:03d}" for i in range(12)]


def test_paging_children_backward_returns_the_ones_before_the_cursor(
    client: stripe.StripeClient,
):
    page = client.v1.invoices.line_items.list(
        "in_small", params={"limit": 4, "ending_before": "il_small010"}
    )

    assert [line.id for line in page.data] == [f"il_small{i:03d}" for i in range(6, 10)]
    assert page.has_more is True


def test_children_of_an_unknown_parent_are_a_404_naming_the_parent(client: stripe.StripeClient):
    error = error_of(lambda: client.v1.customers.tax_ids.list("cus_nobody"))

    assert error.http_status == 404
    assert error.code == "resource_missing"
    assert error.user_message == "No such customer: 'cus_nobody'"


def test_subscription_items_require_their_subscription(client: stripe.StripeClient):
    missing = error_of(lambda: client.raw_request("get", "/v1/subscription_items"))
    unknown = error_of(lambda: client.v1.subscription_items.list(params={"subscription": "sub_x"}))
    items = client.v1.subscription_items.list(params={"subscription": "sub_small002"})

    assert (missing.http_status, missing.param, missing.code) == (
        400,
        "subscription",
        "parameter_missing",
    )
    assert (unknown.http_status, unknown.param) == (404, "subscription")
    assert [i.id for i in items.data] == ["si_small002"]
    assert items.url == "/v1/subscription_items"


def test_an_always_embedded_sub_list_holds_ten_with_has_more_and_pages_from_its_url(
    client: stripe.StripeClient,
):
    invoice = client.v1.invoices.list().data[0]

    assert len(invoice.lines.data) == 10
    assert invoice.lines.has_more is True
    assert invoice.lines.url == "/v1/invoices/in_small/lines"
    assert [line.id for line in invoice.lines.auto_paging_iter()] == [
        f"il_small{i:03d}" for i in range(15)
    ]
