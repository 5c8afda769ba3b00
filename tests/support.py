"""Helpers the end-to-end tests share: ground truth from the emulator, rows from a destination."""

from __future__ import annotations

from datetime import UTC, datetime

import dlt
import requests
import stripe

from stripe_source.catalog import MODELS, Model
from stripe_source.emulator.runner import RunningEmulator
from stripe_source.schema import column_hints

FAST = 1_000.0  # requests/s: the emulator has no limit unless a test sets one


def emulator_state(emulator: RunningEmulator, account_id: str) -> dict[str, list[dict]]:
    """Ground truth over HTTP: every live object of the account per model name."""
    response = requests.get(f"{emulator.url}/_emulator/state", params={"account": account_id})
    response.raise_for_status()
    return response.json()["accounts"][account_id]


def table_rows(pipeline: dlt.Pipeline, table: str, columns: str = "*") -> list[dict]:
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        with client.execute_query(f"select {columns} from {qualified}") as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    return table in pipeline.default_schema.tables and bool(
        pipeline.default_schema.get_table_columns(table)
    )


def assert_tables_equal_the_account(pipeline, emulator, account_id, hard_deletes=False):
    """Live rows of every model's table are exactly the account's live objects."""
    state = emulator_state(emulator, account_id)
    for model in MODELS:
        expected = sorted(obj["id"] for obj in state.get(model.name, []))
        if not table_exists(pipeline, model.table):
            assert expected == [], model.name
            continue
        rows = [
            r
            for r in table_rows(pipeline, model.table, "id, _account_id, is_deleted")
            if r["_account_id"] == account_id
        ]
        live = sorted(r["id"] for r in rows if not r["is_deleted"])
        assert live == expected, model.name
        if hard_deletes:
            assert all(not r["is_deleted"] for r in rows), model.name


def assert_row_equals_object(row: dict, obj: dict, model: Model) -> int:
    """Every scalar field of a Stripe object equals its column; returns how many were compared."""
    hints = column_hints(model)
    compared = 0
    for field, value in obj.items():
        if field not in row or isinstance(value, dict | list) or value is None:
            continue
        if hints.get(field, {}).get("data_type") == "timestamp":
            assert row[field].astimezone(UTC) == datetime.fromtimestamp(value, UTC), (
                model.name,
                obj["id"],
                field,
            )
        else:
            assert row[field] == value, (model.name, obj["id"], field)
        compared += 1
    return compared


def subscription_of_new_prices(
    client: stripe.StripeClient, customer_id: str, *, prices: int = 12, subscribed: int = 12
) -> tuple[stripe.Product, list[stripe.Price], stripe.Subscription]:
    """A new product with `prices` monthly prices, the first `subscribed` of them in one
    send-invoice subscription: more items than the 10 Stripe embeds in a subscription."""
    product = client.v1.products.create(params={"name": "Widget"})
    created = [
        client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": 100 * (i + 1),
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        )
        for i in range(prices)
    ]
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer_id,
            "items": [{"price": price.id} for price in created[:subscribed]],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    return product, created, subscription


def invoice_of_new_items(
    client: stripe.StripeClient, customer_id: str, items: int
) -> stripe.Invoice:
    """A draft invoice of `items` new invoice items: past 10, Stripe cuts its embedded lines."""
    for i in range(items):
        client.v1.invoice_items.create(
            params={"customer": customer_id, "amount": 500 + i, "currency": "usd"}
        )
    return client.v1.invoices.create(
        params={"customer": customer_id, "pending_invoice_items_behavior": "include"}
    )
