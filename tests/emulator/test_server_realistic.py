"""A sync's reads against the realistic seeded store give exactly the store's ground truth.

These tests share the session's seeded emulator and never write to it.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
import stripe

from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.store import EVENT_RETENTION_SECONDS, Account

DAY = 86_400


def platform(emulator: RunningEmulator) -> Account:
    return next(a for a in emulator.store.accounts.values() if a.platform is None)


def newest_first(objects: list[dict[str, Any]]) -> list[str]:
    """Stripe's order: newest `created` first, the later stored first within a second."""
    ranked = sorted(enumerate(objects), key=lambda pair: (-pair[1]["created"], -pair[0]))
    return [obj["id"] for _, obj in ranked]


def walk(client: stripe.StripeClient, path: str, **params: Any) -> list[str]:
    """Ids of a list walked forward with `starting_after`, seven at a time."""
    ids: list[str] = []
    while True:
        cursor = {"starting_after": ids[-1]} if ids else {}
        page = client.raw_request("get", path, limit=7, **params, **cursor).data
        ids += [obj["id"] for obj in page["data"]]
        if not page["has_more"]:
            return ids


def walk_back(client: stripe.StripeClient, path: str, oldest: str, **params: Any) -> list[str]:
    """Ids of a list walked backward with `ending_before` from its oldest object."""
    ids: list[str] = []
    cursor = oldest
    while True:
        page = client.raw_request("get", path, limit=7, ending_before=cursor, **params).data
        ids = [obj["id"] for obj in page["data"]] + ids
        if not page["has_more"]:
            return ids
        cursor = ids[0]


@pytest.mark.parametrize("model_name", ["Charge", "Invoice", "Subscription"])
def test_walking_a_seeded_model_both_ways_matches_the_stores_order(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient, model_name: str
):
    model = MODELS_BY_NAME[model_name]
    expected = newest_first(seeded_emulator.store.state(platform(seeded_emulator))[model_name])

    forward = walk(seeded_client, model.path, **model.list_params)
    backward = walk_back(seeded_client, model.path, expected[-1], **model.list_params)

    assert forward == expected
    assert backward == expected[:-1]


def test_a_created_range_on_seeded_charges_returns_exactly_the_charges_inside(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient
):
    charges = seeded_emulator.store.state(platform(seeded_emulator))["Charge"]
    times = sorted(c["created"] for c in charges)
    low, high = times[len(times) // 4], times[len(times) // 2]

    ids = walk(seeded_client, "/v1/charges", **{"created[gte]": low, "created[lt]": high})

    assert ids == newest_first([c for c in charges if low <= c["created"] < high])


def test_the_largest_invoice_embeds_ten_lines_and_pages_the_rest_from_its_url(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient
):
    account = platform(seeded_emulator)
    lines_model = MODELS_BY_NAME["InvoiceLineItem"]
    invoice_id = max(
        (parent for parent, name in account.children if name == "InvoiceLineItem"),
        key=lambda parent: len(account.children[(parent, "InvoiceLineItem")]),
    )
    expected = seeded_emulator.store.children_ids(account, invoice_id, lines_model)

    invoice = seeded_client.v1.invoices.retrieve(invoice_id)
    paged = [line.id for line in invoice.lines.auto_paging_iter()]

    assert len(expected) > 100
    assert [line.id for line in invoice.lines.data] == expected[:10]
    assert invoice.lines.has_more is True
    assert invoice.lines.url == f"/v1/invoices/{invoice_id}/lines"
    assert paged == expected


def test_seeded_events_of_a_wildcard_type_are_the_last_30_days_of_that_type(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient
):
    account = platform(seeded_emulator)
    oldest = seeded_emulator.store.clock.now() - EVENT_RETENTION_SECONDS
    events = [account.objects[i] for i, m in account.model_of.items() if m == "Event"]
    expected = newest_first(
        [e for e in events if e["created"] >= oldest and fnmatchcase(e["type"], "invoice.*")]
    )

    listed = seeded_client.v1.events.list(params={"type": "invoice.*", "limit": 100})

    assert [e.id for e in listed.auto_paging_iter()] == expected
    assert len(expected) > 100


def test_each_connected_account_is_listed_and_readable_with_stripe_account(
    seeded_emulator: RunningEmulator, seeded_client: stripe.StripeClient
):
    store = seeded_emulator.store
    owner = platform(seeded_emulator)

    listed = [a.id for a in seeded_client.v1.accounts.list(params={"limit": 100}).data]

    assert sorted(listed) == sorted(owner.connected)
    for connected_id in owner.connected:
        connected = seeded_emulator.client(stripe_account=connected_id, max_network_retries=0)
        customers = connected.v1.customers.list(params={"limit": 100}).auto_paging_iter()
        truth = store.state(store.accounts[connected_id]).get("Customer", [])
        assert [c.id for c in customers] == newest_first(truth)
