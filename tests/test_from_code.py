"""`sync_from_stripe_data` loads objects code just wrote to Stripe, without waiting for events.

Each test writes to the emulator through the official SDK, as an app would, hands what the SDK
returned to `sync_from_stripe_data`, and compares the tables with `/_emulator/state`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stripe_source import sync_from_stripe_data
from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.changes import Status
from stripe_source.emulator.runner import start_emulator
from stripe_source.from_code import UnknownObjectError
from tests.conftest import NOW
from tests.support import (
    assert_row_equals_object,
    emulator_state,
    invoice_of_new_items,
    subscription_of_new_prices,
    table_rows,
)

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def emulator():
    with start_emulator(seed=3, objects=200, accounts=1, now=NOW) as running:
        yield running


def _account(emulator):
    return next(a for a in emulator.store.accounts.values() if a.platform is None)


def _sync(emulator, pipeline, data):
    return sync_from_stripe_data(
        data, api_key=emulator.secret_key, api_base=emulator.url, pipeline=pipeline
    )


def _rows_by_id(pipeline, table: str) -> dict[str, dict]:
    return {row["id"]: row for row in table_rows(pipeline, table)}


def _state_by_id(emulator, model: str) -> dict[str, dict]:
    return {obj["id"]: obj for obj in emulator_state(emulator, _account(emulator).id)[model]}


def test_a_batch_of_mixed_types_lands_in_their_tables_with_complete_sub_lists(
    emulator, make_test_pipeline
):
    pipeline = make_test_pipeline()
    client = emulator.client()
    customer = client.v1.customers.create(params={"email": "batch@example.com"})
    product, prices, subscription = subscription_of_new_prices(client, customer.id)
    invoice = invoice_of_new_items(client, customer.id, 11)

    synced = _sync(emulator, pipeline, [customer, product, *prices, subscription, invoice])

    handed = {customer.id, product.id, subscription.id, invoice.id, *(p.id for p in prices)}
    assert synced.status == {object_id: Status.APPLIED for object_id in handed}
    assert not synced.failed
    account = _account(emulator)
    for name, ids in [
        ("Customer", [customer.id]),
        ("Product", [product.id]),
        ("Price", [price.id for price in prices]),
        ("Subscription", [subscription.id]),
        ("Invoice", [invoice.id]),
    ]:
        model = MODELS_BY_NAME[name]
        rows, state = _rows_by_id(pipeline, model.table), _state_by_id(emulator, name)
        assert set(rows) == set(ids), name
        for object_id in ids:
            assert_row_equals_object(rows[object_id], state[object_id], model)
            assert rows[object_id]["_account_id"] == account.id

    for child, parent_id in [
        ("SubscriptionItem", subscription.id),
        ("InvoiceLineItem", invoice.id),
    ]:
        model = MODELS_BY_NAME[child]
        expected = sorted(emulator.store.children_ids(account, parent_id, model))
        loaded = sorted(
            row["id"] for row in table_rows(pipeline, model.table) if row["_parent_id"] == parent_id
        )
        assert len(expected) > 10 and loaded == expected, child


def test_a_single_plain_dict_is_routed_by_its_object_type(emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    coupon = emulator.client().v1.coupons.create(params={"percent_off": 15, "duration": "once"})
    plain = coupon.to_dict(recursive=True)

    synced = _sync(emulator, pipeline, plain)

    assert synced.status == {coupon.id: Status.APPLIED}
    rows = _rows_by_id(pipeline, "coupons")
    assert list(rows) == [coupon.id]
    assert_row_equals_object(
        rows[coupon.id], _state_by_id(emulator, "Coupon")[coupon.id], MODELS_BY_NAME["Coupon"]
    )


def test_an_older_copy_never_overwrites_a_newer_row(emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    client = emulator.client()
    created = client.v1.customers.create(params={"email": "first@example.com"})
    emulator.advance_clock(60)
    updated = client.v1.customers.update(created.id, params={"email": "second@example.com"})
    _sync(emulator, pipeline, updated)

    synced = _sync(emulator, pipeline, created)

    assert synced.status == {created.id: Status.SUPERSEDED}
    row = _rows_by_id(pipeline, "customers")[created.id]
    assert row["email"] == _state_by_id(emulator, "Customer")[created.id]["email"]


def test_a_deleted_object_marks_its_row_and_its_children_deleted(emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    client = emulator.client()
    customer = client.v1.customers.create(params={"email": "drafts@example.com"})
    for amount in (700, 800):
        client.v1.invoice_items.create(
            params={"customer": customer.id, "amount": amount, "currency": "usd"}
        )
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    _sync(emulator, pipeline, [customer, draft])
    emulator.advance_clock(60)

    deleted = client.v1.invoices.delete(draft.id)
    _sync(emulator, pipeline, deleted)

    assert draft.id not in _state_by_id(emulator, "Invoice")
    row = _rows_by_id(pipeline, "invoices")[draft.id]
    assert row["is_deleted"] is True and row["deleted_at"] is not None
    lines = [r for r in table_rows(pipeline, "invoice_line_items") if r["_parent_id"] == draft.id]
    assert len(lines) == 2 and all(line["is_deleted"] for line in lines)
    assert _rows_by_id(pipeline, "customers")[customer.id]["is_deleted"] is False


def test_an_object_outside_the_catalog_is_an_error_naming_its_type_and_loads_nothing(
    emulator, make_test_pipeline
):
    pipeline = make_test_pipeline()
    customer = emulator.client().v1.customers.create(params={"email": "kept@example.com"})
    balance = {"object": "balance", "available": [{"amount": 100, "currency": "usd"}]}

    with pytest.raises(UnknownObjectError, match="'balance'"):
        _sync(emulator, pipeline, [customer, balance])

    assert pipeline.default_schema_name is None, "nothing was extracted or loaded"


def test_the_readme_example_runs_and_finds_the_product_it_created(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("## Syncing objects from code") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example, "the README's example of syncing from code"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}

    exec(compile(example.group(1), "README.md", "exec"), namespace)

    product = namespace["product"]
    out = capsys.readouterr().out
    assert f"('{product.id}', '{product.name}', True)" in out
