"""Emulators for the HTTP-layer tests, each serving its own store on a free port.

`small_emulator` serves a hand-built store whose every object the tests can name; it is rebuilt
for each test, so tests may write, advance the clock or change the simulation freely.
`seeded_emulator` serves the realistic seeded store, shared by the whole session: tests that use
it must only read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.emulator.runner import RunningEmulator, start_emulator
from stripe_source.emulator.store import Account, Clock, Obj, Store

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
SEEDED_OBJECTS = 3_000
PLATFORM = "acct_1Platform0000001"
CONNECTED = "acct_1Connected000002"
STRANGER = "acct_1Stranger0000003"


class QuickRetries(stripe.RequestsClient):
    """The SDK's own HTTP client with retries a hundred times quicker, so fault tests stay fast."""

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.005


def _add(store: Store, account: Account, model: str, obj: Obj, parent: str | None = None) -> Obj:
    return store.add(account, MODELS_BY_NAME[model], {"livemode": False, **obj}, parent_id=parent)


def build_small_store() -> Store:
    """A few of each kind the tests look at, with `created` values the tests can reason about.

    Customers come in pairs sharing a `created` second, so paging must break ties the way the
    store orders them rather than by time alone.
    """
    store = Store(Clock(NOW))
    platform = store.add_account(PLATFORM, 1)
    connected = store.add_account(CONNECTED, 2, platform=PLATFORM)
    store.add_account(STRANGER, 3)

    _add(
        store,
        platform,
        "Account",
        {
            "id": CONNECTED,
            "object": "account",
            "created": NOW - 400 * DAY,
            "charges_enabled": True,
            "country": "FR",
            "type": "standard",
            "metadata": {},
        },
    )
    for i in range(3):
        _add(
            store,
            platform,
            "ExternalAccount",
            {"id": f"ba_connected{i}", "object": "bank_account", "account": CONNECTED},
            parent=CONNECTED,
        )
    store.refresh_embedded(platform, CONNECTED)

    for i in range(30):
        _add(
            store,
            platform,
            "Customer",
            {
                "id": f"cus_small{i:03d}",
                "object": "customer",
                "created": NOW - DAY * 30 + (i // 2) * 3600,
                "email": f"customer{i}@example.com",
                "default_source": "card_small001" if i == 1 else None,
                "metadata": {"index": str(i)},
                "test_clock": None,
            },
        )
    _add(
        store,
        platform,
        "Customer",
        {
            "id": "cus_onclock",
            "object": "customer",
            "created": NOW - DAY,
            "email": "clock@example.com",
            "metadata": {},
            "test_clock": "clock_1",
        },
    )
    for i in range(12):
        _add(
            store,
            platform,
            "TaxId",
            {
                "id": f"txi_small{i:03d}",
                "object": "tax_id",
                "created": NOW - DAY * 10 + i,
                "customer": "cus_small001",
                "type": "eu_vat",
                "value": f"DE{i:09d}",
            },
            parent="cus_small001",
        )
    for i in range(2):
        _add(
            store,
            platform,
            "Card",
            {
                "id": f"card_small{i:03d}",
                "object": "card",
                "customer": "cus_small001",
                "brand": "Visa",
                "last4": "4242",
            },
            parent="cus_small001",
        )

    for i in range(6):
        _add(
            store,
            platform,
            "PaymentMethod",
            {
                "id": f"pm_small{i:03d}",
                "object": "payment_method",
                "created": NOW - DAY * 5 + i,
                "customer": "cus_small002" if i < 4 else None,
                "type": "card" if i % 2 == 0 else "sepa_debit",
            },
        )

    _add(
        store,
        platform,
        "Product",
        {"id": "prod_small", "object": "product", "created": NOW - DAY * 90, "active": True},
    )
    for i, active in enumerate((True, False, True)):
        _add(
            store,
            platform,
            "Price",
            {
                "id": f"price_small{i}",
                "object": "price",
                "created": NOW - DAY * 80 + i,
                "active": active,
                "product": "prod_small",
            },
        )

    statuses = ("active", "canceled", "trialing", "canceled", "past_due", "active")
    for i, status in enumerate(statuses):
        sub_id = f"sub_small{i:03d}"
        _add(
            store,
            platform,
            "Subscription",
            {
                "id": sub_id,
                "object": "subscription",
                "created": NOW - DAY * 20 + i,
                "customer": f"cus_small{i:03d}",
                "status": status,
                "test_clock": None,
            },
        )
        _add(
            store,
            platform,
            "SubscriptionItem",
            {
                "id": f"si_small{i:03d}",
                "object": "subscription_item",
                "created": NOW - DAY * 20 + i,
                "price": {"id": f"price_small{i % 3}", "object": "price"},
                "subscription": sub_id,
            },
            parent=sub_id,
        )
        store.refresh_embedded(platform, sub_id)

    _add(
        store,
        platform,
        "Invoice",
        {
            "id": "in_small",
            "object": "invoice",
            "created": NOW - DAY * 3,
            "customer": "cus_small003",
            "status": "paid",
        },
    )
    for i in range(15):
        _add(
            store,
            platform,
            "InvoiceLineItem",
            {"id": f"il_small{i:03d}", "object": "line_item", "amount": 100 * i},
            parent="in_small",
        )
    store.refresh_embedded(platform, "in_small")

    for i in range(4):
        _add(
            store,
            platform,
            "Payout",
            {"id": f"po_small{i}", "object": "payout", "created": NOW - DAY * i, "amount": 1000},
        )

    for i in range(3):
        _add(
            store,
            connected,
            "Customer",
            {
                "id": f"cus_connected{i}",
                "object": "customer",
                "created": NOW - DAY * i,
                "metadata": {},
                "test_clock": None,
            },
        )

    _add_events(store, platform)
    return store


EVENT_PLAN: tuple[tuple[str, int, int], ...] = (
    # (type, age in days, pending webhooks)
    ("customer.created", 40, 0),
    ("customer.created", 29, 0),
    ("customer.updated", 20, 1),
    ("customer.subscription.created", 15, 0),
    ("customer.subscription.updated", 10, 2),
    ("invoice.paid", 9, 0),
    ("invoice.finalized", 8, 0),
    ("charge.succeeded", 7, 1),
    ("customer.deleted", 2, 0),
    ("product.created", 1, 0),
)


def _add_events(store: Store, account: Account) -> None:
    customer = account.objects["cus_small000"]
    for event_type, age_days, pending in EVENT_PLAN:
        store.emit(
            account,
            event_type,
            customer,
            created=NOW - age_days * DAY,
            pending_webhooks=pending,
        )


@pytest.fixture
def small_emulator() -> Iterator[RunningEmulator]:
    with start_emulator(store=build_small_store(), seed=7) as emulator:
        yield emulator


@pytest.fixture
def client(small_emulator: RunningEmulator) -> stripe.StripeClient:
    """Account 1's test key against the small emulator, without SDK retries."""
    return small_emulator.client(max_network_retries=0)


@pytest.fixture
def retrying_client(small_emulator: RunningEmulator) -> stripe.StripeClient:
    """Account 1's test key with the SDK's retries on, backing off a hundred times quicker."""
    return small_emulator.client(max_network_retries=8, http_client=QuickRetries())


@pytest.fixture(scope="session")
def seeded_emulator() -> Iterator[RunningEmulator]:
    with start_emulator(seed=42, objects=SEEDED_OBJECTS, accounts=2, now=NOW) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def seeded_client(seeded_emulator: RunningEmulator) -> stripe.StripeClient:
    return seeded_emulator.client(max_network_retries=0)
