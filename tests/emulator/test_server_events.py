"""`/v1/events` filters like Stripe's and forgets events after 30 days."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

import pytest
import stripe

from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.store import EVENT_RETENTION_SECONDS

PLATFORM = "acct_1Platform0000001"
DAY = 86_400


def stored_events(emulator: RunningEmulator) -> list[dict[str, Any]]:
    account = emulator.store.accounts[PLATFORM]
    return [account.objects[i] for i, model in account.model_of.items() if model == "Event"]


def expected_ids(
    emulator: RunningEmulator, keep: Callable[[dict[str, Any]], bool] = lambda e: True
) -> list[str]:
    """Events still served (younger than 30 days) that `keep` accepts, newest first."""
    oldest = emulator.store.clock.now() - EVENT_RETENTION_SECONDS
    served = [e for e in stored_events(emulator) if e["created"] >= oldest and keep(e)]
    ranked = sorted(enumerate(served), key=lambda pair: (-pair[1]["created"], -pair[0]))
    return [event["id"] for _, event in ranked]


def listed_ids(client: stripe.StripeClient, **params: Any) -> list[str]:
    return [e.id for e in client.v1.events.list(params={"limit": 100, **params}).data]


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def test_events_are_listed_newest_first_without_those_older_than_30_days(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    ids = listed_ids(client)

    assert ids == expected_ids(small_emulator)
    assert len(ids) == len(stored_events(small_emulator)) - 1


def test_a_wildcard_type_matches_every_event_type_under_its_prefix(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    ids = listed_ids(client, type="customer.*")

    assert ids == expected_ids(small_emulator, lambda e: fnmatchcase(e["type"], "customer.*"))
    assert len(ids) == 5


def test_an_exact_type_matches_only_that_type(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    ids = listed_ids(client, type="invoice.paid")

    assert ids == expected_ids(small_emulator, lambda e: e["type"] == "invoice.paid")


def test_several_types_are_matched_with_types(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    wanted = {"invoice.paid", "charge.succeeded", "product.created"}

    ids = listed_ids(client, types=sorted(wanted))

    assert ids == expected_ids(small_emulator, lambda e: e["type"] in wanted)
    assert len(ids) == 3


def test_type_and_types_together_are_refused(client: stripe.StripeClient):
    error = error_of(
        lambda: client.v1.events.list(params={"type": "invoice.paid", "types": ["charge.*"]})
    )

    assert error.http_status == 400
    assert error.user_message == "You may only specify one of these parameters: type, types."


def test_more_than_20_types_are_refused(client: stripe.StripeClient):
    types = [f"customer.type_{i}" for i in range(21)]

    error = error_of(lambda: client.v1.events.list(params={"types": types}))

    assert error.http_status == 400
    assert error.param == "types"


@pytest.mark.parametrize("delivered", [True, False])
def test_delivery_success_separates_events_with_pending_webhooks(
    small_emulator: RunningEmulator, client: stripe.StripeClient, delivered: bool
):
    ids = listed_ids(client, delivery_success=delivered)

    assert ids == expected_ids(small_emulator, lambda e: (e["pending_webhooks"] == 0) == delivered)


@pytest.mark.parametrize(
    "bounds_in_days",
    [{"gte": 10}, {"gt": 10}, {"lt": 10}, {"lte": 10, "gt": 20}],
    ids=str,
)
def test_created_filters_events_by_the_given_bounds(
    small_emulator: RunningEmulator, client: stripe.StripeClient, bounds_in_days: dict[str, int]
):
    # Bounds sit on the second an event was created, `days` before the store's fixed start.
    start = min(e["created"] for e in stored_events(small_emulator)) + 40 * DAY
    bounds = {op: start - days * DAY for op, days in bounds_in_days.items()}

    ids = listed_ids(client, created=bounds)

    def within(event: dict[str, Any]) -> bool:
        created = event["created"]
        return (
            created > bounds.get("gt", created - 1)
            and created >= bounds.get("gte", created)
            and created < bounds.get("lt", created + 1)
            and created <= bounds.get("lte", created)
        )

    assert ids == expected_ids(small_emulator, within)


def test_an_event_retrieves_by_id_while_it_is_younger_than_30_days(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    newest_id = expected_ids(small_emulator)[0]

    event = client.v1.events.retrieve(newest_id)

    assert event.id == newest_id
    assert event.data.object.id == "cus_small000"


def test_an_event_older_than_30_days_is_a_404(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    oldest = min(stored_events(small_emulator), key=lambda e: e["created"])

    error = error_of(lambda: client.v1.events.retrieve(oldest["id"]))

    assert error.http_status == 404
    assert error.user_message == f"No such event: '{oldest['id']}'"


def test_advancing_the_clock_31_days_makes_every_event_expire(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    newest_id = expected_ids(small_emulator)[0]

    small_emulator.advance_clock(31 * DAY)

    assert listed_ids(client) == []
    assert error_of(lambda: client.v1.events.retrieve(newest_id)).http_status == 404
