"""`process-events` backfills the events Stripe still serves and applies the selected ones.

Each test syncs a small account in full, changes it through the official SDK (as an app would),
then processes events and compares the `events` table with the events the emulator holds and
the model tables with `/_emulator/state`.
"""

from __future__ import annotations

import copy
import fnmatch

import pytest

from stripe_source.backfill import EventSelection, run_backfill
from stripe_source.changes import Status
from stripe_source.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from stripe_source.emulator.runner import start_emulator
from stripe_source.keys import ApiKey
from stripe_source.runner import make_pipeline, run_sync
from tests.conftest import NOW
from tests.support import (
    FAST,
    assert_tables_equal_the_account,
    emulator_state,
    invoice_of_new_items,
    subscription_of_new_prices,
    table_exists,
    table_rows,
)

pytestmark = pytest.mark.slow

DAY = 86_400
OLD_API_VERSION = "2020-08-27"


@pytest.fixture
def emulator():
    with start_emulator(seed=5, objects=400, accounts=1, now=NOW) as running:
        yield running


def _account(emulator):
    return next(a for a in emulator.store.accounts.values() if a.platform is None)


def _served_events(emulator) -> list[dict]:
    """Ground truth: every event of the account the emulator still serves."""
    account = _account(emulator)
    return [
        account.objects[event_id]
        for event_id, model in account.model_of.items()
        if model == "Event" and emulator.store.event_is_served(account.objects[event_id])
    ]


def _synced(make_test_pipeline, emulator):
    pipeline = make_test_pipeline()
    result = run_sync(
        pipeline,
        [ApiKey(emulator.secret_key)],
        api_base=emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )
    assert result.exit_code == 0
    return pipeline


def _process(pipeline, emulator, **selection):
    synced, result = run_backfill(
        pipeline,
        [ApiKey(emulator.secret_key)],
        EventSelection(**selection),
        api_base=emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )
    assert not synced.report.failed, [e.message for e in synced.report.rows() if e.message]
    return result


def _event_rows(pipeline) -> dict[str, dict]:
    return {
        row["id"]: row
        for row in table_rows(
            pipeline, "events", "id, type, processing_status, processing_error, _account_id"
        )
    }


def _change_the_account(emulator) -> dict[str, str]:
    """Updates, deletions and creations with long sub-lists, none of them synced yet."""
    client = emulator.client()
    state = emulator_state(emulator, _account(emulator).id)
    customers = state["Customer"]
    changed = customers[0]["id"]
    client.v1.customers.update(changed, params={"email": "changed@example.com"})
    client.v1.customers.delete(customers[1]["id"])

    customer = client.v1.customers.create(params={"email": "new@example.com"})
    product, _, subscription = subscription_of_new_prices(client, customer.id)
    items = subscription["items"]["data"]
    client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": items[0]["id"], "deleted": True}]}
    )
    invoice = invoice_of_new_items(client, customer.id, 11)
    client.v1.invoices.finalize_invoice(invoice.id)
    draft = client.v1.invoices.create(params={"customer": customer.id})
    client.v1.invoices.delete(draft.id)
    return {"changed_customer": changed, "product": product.id}


def _undelivered(emulator, count: int) -> list[dict]:
    """Events about customers whose webhook delivery is still pending (`delivery_success`
    false), as Stripe keeps them after an endpoint failed to answer."""
    account = _account(emulator)
    customers = emulator_state(emulator, account.id)["Customer"][:count]
    return [
        emulator.store.emit(account, "customer.updated", customer, pending_webhooks=1)
        for customer in customers
    ]


def _row(pipeline, table: str, object_id: str, columns: str) -> dict:
    rows = [r for r in table_rows(pipeline, table, f"id, {columns}") if r["id"] == object_id]
    assert len(rows) == 1, (table, object_id, rows)
    return rows[0]


def _emulated(emulator, model: str, object_id: str) -> dict:
    state = emulator_state(emulator, _account(emulator).id)
    return next(obj for obj in state[model] if obj["id"] == object_id)


def test_processing_every_event_makes_every_table_equal_the_account(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    changed = _change_the_account(emulator)

    result = _process(pipeline, emulator)

    assert_tables_equal_the_account(pipeline, emulator, _account(emulator).id)
    served = {event["id"]: event for event in _served_events(emulator)}
    stored = _event_rows(pipeline)
    assert set(stored) == set(served)
    assert {row["type"] for row in stored.values()} == {e["type"] for e in served.values()}
    assert result.count(Status.FAILED) == 0
    row = _row(pipeline, "customers", changed["changed_customer"], "email")
    assert row["email"] == _emulated(emulator, "Customer", changed["changed_customer"])["email"]


def test_type_patterns_select_only_their_events_and_changes(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    changed = _change_the_account(emulator)

    _process(pipeline, emulator, types=("customer.*", "invoice.finalized"))

    wanted = ("customer.*", "invoice.finalized")
    expected = {
        event["id"]
        for event in _served_events(emulator)
        if any(fnmatch.fnmatchcase(event["type"], pattern) for pattern in wanted)
    }
    assert expected and set(_event_rows(pipeline)) == expected
    row = _row(pipeline, "customers", changed["changed_customer"], "email")
    assert row["email"] == "changed@example.com"
    products = {r["id"] for r in table_rows(pipeline, "products", "id")}
    assert changed["product"] not in products


def test_failed_selects_the_events_whose_webhooks_were_not_delivered(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    _undelivered(emulator, 3)

    _process(pipeline, emulator, failed=True)

    expected = {e["id"] for e in _served_events(emulator) if e["pending_webhooks"] > 0}
    assert expected and set(_event_rows(pipeline)) == expected


def test_ids_are_processed_and_an_unknown_id_is_reported_without_stopping_the_others(
    emulator, make_test_pipeline
):
    pipeline = _synced(make_test_pipeline, emulator)
    chosen = sorted(event["id"] for event in _served_events(emulator))[:3]
    unknown = "evt_1NotAnEventThisAccountHas"

    result = _process(pipeline, emulator, ids=(*chosen, unknown))

    assert result.unknown_ids() == [unknown]
    assert result.failed
    assert set(_event_rows(pipeline)) == set(chosen)


def test_ids_combine_with_type_and_failed_filters(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    _undelivered(emulator, 4)
    events = sorted(_served_events(emulator), key=lambda event: event["id"])
    failed_customer_events = [
        e for e in events if e["type"].startswith("customer.") and e["pending_webhooks"] > 0
    ]
    others = [e for e in events if e not in failed_customer_events][:5]
    assert failed_customer_events and others
    ids = tuple(e["id"] for e in (*failed_customer_events[:3], *others))

    _process(pipeline, emulator, ids=ids, types=("customer.*",), failed=True)

    assert set(_event_rows(pipeline)) == {e["id"] for e in failed_customer_events[:3]}


def test_event_types_outside_the_catalog_are_stored_and_counted_only(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    account = _account(emulator)
    balance = {"object": "balance", "available": [{"amount": 100, "currency": "usd"}]}
    event = emulator.store.emit(account, "balance.available", balance)

    result = _process(pipeline, emulator, ids=(event["id"],))

    assert _event_rows(pipeline)[event["id"]]["processing_status"] == "unmodelled"
    assert result.count(Status.UNMODELLED) == 1
    assert not table_exists(pipeline, "balances")
    assert_tables_equal_the_account(pipeline, emulator, account.id)


def test_a_failing_event_is_recorded_on_its_row_and_the_others_are_applied(
    emulator, make_test_pipeline
):
    pipeline = _synced(make_test_pipeline, emulator)
    account = _account(emulator)
    state = emulator_state(emulator, account.id)
    # an event in an older API version is fetched again, and this key may not read payouts
    payout = state["Payout"][0]
    stale = emulator.store.emit(account, "payout.updated", payout, api_version=OLD_API_VERSION)
    customer_id = state["Customer"][2]["id"]
    emulator.client().v1.customers.update(customer_id, params={"email": "good@example.com"})
    good = [
        e["id"]
        for e in _served_events(emulator)
        if e["type"] == "customer.updated" and e["data"]["object"]["id"] == customer_id
    ]
    restricted = emulator.keys(1).restricted

    synced, result = run_backfill(
        pipeline,
        [ApiKey(restricted)],
        EventSelection(ids=(stale["id"], *good)),
        api_base=emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )

    rows = _event_rows(pipeline)
    assert rows[stale["id"]]["processing_status"] == "failed"
    assert "permission" in rows[stale["id"]]["processing_error"]
    assert restricted not in rows[stale["id"]]["processing_error"]
    assert [rows[event_id]["processing_status"] for event_id in good] == ["applied"]
    assert result.failed
    assert _row(pipeline, "customers", customer_id, "email")["email"] == "good@example.com"


def _snapshot(pipeline) -> dict[str, list[tuple]]:
    """Every table's rows, without dlt's load bookkeeping and the record of the last processing
    (its time, and whether an event was applied or found already superseded)."""
    skipped = {"_dlt_load_id", "_dlt_id", "processed_at", "processing_status"}
    tables = {}
    for table in pipeline.default_schema.data_table_names():
        if not table_exists(pipeline, table):
            continue
        columns = [c for c in pipeline.default_schema.get_table_columns(table) if c not in skipped]
        quoted = ", ".join(f'"{c}"' for c in columns)
        tables[table] = sorted(
            (tuple(str(v) for v in row.values()) for row in table_rows(pipeline, table, quoted)),
        )
    return tables


def test_processing_the_same_events_twice_leaves_the_tables_unchanged(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    _change_the_account(emulator)
    # later than the changes: within one second a fetch and an event cannot be ordered
    emulator.advance_clock(5)
    _process(pipeline, emulator)
    first = _snapshot(pipeline)

    second = _process(pipeline, emulator)

    assert _snapshot(pipeline) == first
    assert second.count(Status.FAILED) == 0


def test_replaying_a_20_day_old_event_never_overwrites_a_newer_row(emulator, make_test_pipeline):
    pipeline = _synced(make_test_pipeline, emulator)
    account = _account(emulator)
    customer = emulator_state(emulator, account.id)["Customer"][3]
    old = copy.deepcopy(customer) | {"email": "twenty-days-ago@example.com"}
    replayed = emulator.store.emit(
        account, "customer.updated", old, created=emulator.store.clock.now() - 20 * DAY
    )

    result = _process(pipeline, emulator, ids=(replayed["id"],))

    assert _event_rows(pipeline)[replayed["id"]]["processing_status"] == "superseded"
    assert result.count(Status.SUPERSEDED) == 1
    assert _row(pipeline, "customers", customer["id"], "email")["email"] == customer["email"]


def test_the_command_reports_by_verbosity_and_exits_by_outcome(emulator, tmp_path, capsys):
    arguments = ["--api-base", emulator.url, "--rate-limit", str(FAST), "--no-progress"]
    known = sorted(event["id"] for event in _served_events(emulator))[:2]
    env_key = {"STRIPE_API_KEY": emulator.secret_key}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env_key.items():
            patch.setenv(name, value)

        assert main(["process-events", "--ids", *known, "-v", "0", *arguments]) == EXIT_OK
        quiet = capsys.readouterr()
        assert quiet.out == "" and quiet.err == ""

        assert main(["process-events", "--ids", *known, "-v", "2", *arguments]) == EXIT_OK
        detailed = capsys.readouterr().out
        assert all(event_id in detailed for event_id in known)
        assert "Stripe serves events for 30 days" in detailed

        unknown = "evt_1UnknownToThisAccount"
        assert main(["process-events", "--ids", unknown, *arguments]) == EXIT_FAILED
        assert unknown in capsys.readouterr().err

        assert main(["process-events", "--type", "payment_intents.*", *arguments]) == (
            EXIT_BAD_INPUT
        )
        error = capsys.readouterr().err
        assert "payment_intents.*" in error and "payment_intent." in error

    pipeline = make_pipeline("duckdb", "stripe", duckdb_file=tmp_path / "stripe_sync.duckdb")
    assert set(_event_rows(pipeline)) == set(known)
