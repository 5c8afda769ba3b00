"""Incremental runs keep the tables equal to the account, at a cost proportional to the changes.

Every test writes to the emulator through the official SDK between runs (as a user's app would),
then compares each table with `/_emulator/state`: live rows must be exactly the live objects, and
rows of deleted objects must be marked deleted.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import time

import pytest
import requests
import stripe

from stripe_source.catalog import MODELS, MODELS_BY_NAME
from stripe_source.changes import plan_events
from stripe_source.cli import EXIT_BUSY, main
from stripe_source.keys import ApiKey
from stripe_source.runner import make_pipeline, pipeline_lock, run_sync
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


def _platforms(emulator) -> list[str]:
    return [a.id for a in emulator.store.accounts.values() if a.platform is None]


def _sync(pipeline, emulator, keys=None, **options):
    keys = keys or [ApiKey(emulator.secret_key)]
    result = run_sync(
        pipeline,
        keys,
        api_base=emulator.url,
        rate_limit=FAST,
        incremental=True,
        show_progress=False,
        **options,
    )
    assert result.exit_code == 0, [e for e in result.report.rows() if e.message]
    return result


def _make_changes(client: stripe.StripeClient, emulator, account_id: str) -> dict[str, str]:
    """Create, update and delete objects of many models, as an app using Stripe would."""
    state = emulator_state(emulator, account_id)
    customers = [c for c in state["Customer"] if not c.get("deleted")]
    changed = customers[3]["id"]
    client.v1.customers.update(changed, params={"email": "changed@example.com"})
    client.v1.customers.delete(customers[4]["id"])
    customer = client.v1.customers.create(params={"email": "new@example.com", "name": "New"})

    _, _, subscription = subscription_of_new_prices(client, customer.id, prices=13)
    items = subscription["items"]["data"]
    client.v1.subscriptions.update(
        subscription.id,
        params={
            "items": [
                {"id": items[0]["id"], "deleted": True},
                {"id": items[1]["id"], "deleted": True},
            ],
        },
    )

    invoice = invoice_of_new_items(client, customer.id, 12)
    client.v1.invoices.finalize_invoice(invoice.id)
    draft = client.v1.invoices.create(params={"customer": customer.id})
    client.v1.invoices.delete(draft.id)
    return {
        "changed_customer": changed,
        "new_customer": customer.id,
        "subscription": subscription.id,
        "invoice": invoice.id,
    }


def test_incremental_runs_track_creates_updates_and_deletes_exactly(
    fresh_emulator, make_test_pipeline
):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    _sync(pipeline, fresh_emulator)

    made = _make_changes(fresh_emulator.client(), fresh_emulator, account_id)
    _sync(pipeline, fresh_emulator)

    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)
    emails = {r["id"]: r["email"] for r in table_rows(pipeline, "customers", "id, email")}
    assert emails[made["changed_customer"]] == "changed@example.com"
    lines = [
        r
        for r in table_rows(pipeline, "invoice_line_items", "_parent_id")
        if r["_parent_id"] == made["invoice"]
    ]
    assert len(lines) == 12


def test_a_subscription_losing_items_marks_them_deleted(fresh_emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    _sync(pipeline, fresh_emulator)
    made = _make_changes(fresh_emulator.client(), fresh_emulator, account_id)
    _sync(pipeline, fresh_emulator)

    client = fresh_emulator.client()
    items = client.v1.subscription_items.list(
        params={"subscription": made["subscription"], "limit": 100}
    )
    removed = items.data[0].id
    client.v1.subscription_items.delete(removed)
    _sync(pipeline, fresh_emulator)

    rows = {r["id"]: r for r in table_rows(pipeline, "subscription_items")}
    assert rows[removed]["is_deleted"] is True and rows[removed]["deleted_at"] is not None
    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)


def test_hard_deletes_remove_the_rows_instead(fresh_emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    _sync(pipeline, fresh_emulator, hard_deletes=True)
    _make_changes(fresh_emulator.client(), fresh_emulator, account_id)
    _sync(pipeline, fresh_emulator, hard_deletes=True)

    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id, hard_deletes=True)


def test_after_more_than_30_days_the_models_are_listed_again_and_stay_exact(
    fresh_emulator, make_test_pipeline, caplog
):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    _sync(pipeline, fresh_emulator)
    _make_changes(fresh_emulator.client(), fresh_emulator, account_id)
    fresh_emulator.advance_clock(31 * DAY)

    with caplog.at_level(logging.WARNING, logger="stripe_source"):
        _sync(pipeline, fresh_emulator)

    warnings = [r for r in caplog.records if "30 days" in r.getMessage()]
    assert len(warnings) == 1
    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)


def test_a_second_key_keeps_its_own_cursors(seeded_accounts_writable, make_test_pipeline):
    emulator = seeded_accounts_writable
    pipeline = make_test_pipeline()
    keys = [ApiKey(emulator.keys(n).secret) for n in (1, 2)]
    first, second = _platforms(emulator)
    _sync(pipeline, emulator, keys=keys)

    before = _customer_cursors(pipeline)
    client = emulator.client(emulator.keys(2).secret)
    client.v1.customers.create(params={"email": "second@example.com"})
    emulator.advance_clock(60)
    _sync(pipeline, emulator, keys=keys[1:])

    after = _customer_cursors(pipeline)
    assert after[first] == before[first]
    assert after[second] > before[second]
    assert_tables_equal_the_account(pipeline, emulator, second)
    _sync(pipeline, emulator, keys=keys)
    assert_tables_equal_the_account(pipeline, emulator, first)


def _customer_cursors(pipeline) -> dict[str, float]:
    accounts = pipeline.state["sources"]["stripe"]["accounts"]
    return {
        account: saved["models"]["Customer"]["created_cursor"]
        for account, saved in accounts.items()
    }


def test_requests_are_proportional_to_the_changes_not_the_account(
    fresh_emulator, make_test_pipeline
):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    first = _sync(pipeline, fresh_emulator)
    full_requests = sum(e.requests for e in first.report.rows())
    client = fresh_emulator.client()
    customers = emulator_state(fresh_emulator, account_id)["Customer"]
    for customer in customers[:20]:
        client.v1.customers.update(customer["id"], params={"metadata": {"touched": "yes"}})
    requests.post(f"{fresh_emulator.url}/_emulator/metrics/reset").raise_for_status()

    _sync(pipeline, fresh_emulator)

    served = requests.get(f"{fresh_emulator.url}/_emulator/metrics").json()["requests"]
    resources = len({m.parent or m.name for m in MODELS})
    # one created-cursor request per resource, the account lookups and an event page or two:
    # a metadata change needs no refetch, and balance transactions only move with the balance
    assert served <= resources + 6
    assert served < full_requests / 2
    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)


def test_events_in_any_order_and_repeated_give_the_same_plan(seeded_accounts):
    events = _all_events(seeded_accounts)
    selected = set(MODELS_BY_NAME)
    pages = [events[start : start + 10] for start in range(0, len(events), 10)]
    shuffled = pages + pages[: len(pages) // 3]
    random.Random(3).shuffle(shuffled)

    ordered = plan_events(pages, selected, stripe.api_version)
    messy = plan_events(shuffled, selected, stripe.api_version)

    def key(changes):
        return sorted((c.model.name, c.obj["id"], c.version) for c in changes)

    assert len(events) > 100
    assert key(ordered.upserts) == key(messy.upserts)
    assert key(ordered.deletes) == key(messy.deletes)
    assert key(ordered.refetch) == key(messy.refetch)


def _all_events(emulator) -> list[dict]:
    """Every event the API serves, as the JSON Stripe sends (newest first)."""
    events: list[dict] = []
    params: dict = {"limit": 100}
    while True:
        page = requests.get(
            f"{emulator.url}/v1/events", params=params, auth=(emulator.secret_key, "")
        ).json()
        events += page["data"]
        if not page["has_more"]:
            return events
        params["starting_after"] = page["data"][-1]["id"]


def test_an_old_event_never_replaces_a_newer_row(fresh_emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    account_id = _platforms(fresh_emulator)[0]
    client = fresh_emulator.client()
    customer = client.v1.customers.create(params={"email": "first@example.com"})
    _sync(pipeline, fresh_emulator)
    client.v1.customers.update(customer.id, params={"email": "second@example.com"})
    _sync(pipeline, fresh_emulator)

    # the overlap window re-reads the older events; the newest version must stay
    _sync(pipeline, fresh_emulator)

    emails = {r["id"]: r["email"] for r in table_rows(pipeline, "customers", "id, email")}
    assert emails[customer.id] == "second@example.com"
    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)


def test_a_second_run_while_one_holds_the_pipeline_exits_at_once(
    fresh_emulator, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SOURCES__STRIPE_SOURCE__API_KEYS", f'["{fresh_emulator.secret_key}"]')
    pipeline = make_pipeline("duckdb", "stripe", duckdb_file=tmp_path / "stripe_sync.duckdb")

    with pipeline_lock(pipeline):
        code = main(["sync", "Customer", "--api-base", fresh_emulator.url, "--no-progress"])

    assert code == EXIT_BUSY
    assert "another sync" in capsys.readouterr().err


def test_a_run_killed_midway_converges_on_the_next_run(fresh_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__STRIPE_SOURCE__API_KEYS", f'["{fresh_emulator.secret_key}"]')
    account_id = _platforms(fresh_emulator)[0]
    fresh_emulator.config(latency_ms=20)
    command = [
        sys.executable,
        "-m",
        "stripe_source.cli",
        "sync",
        "--api-base",
        fresh_emulator.url,
        "--rate-limit",
        "200",
        "--no-progress",
    ]

    victim = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(4)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    _make_changes(fresh_emulator.client(), fresh_emulator, account_id)
    fresh_emulator.config(latency_ms=0)
    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    pipeline = make_pipeline("duckdb", "stripe", duckdb_file=tmp_path / "stripe_sync.duckdb")
    assert_tables_equal_the_account(pipeline, fresh_emulator, account_id)
    for model in MODELS:
        if table_exists(pipeline, model.table):
            ids = [
                (r["_account_id"], r["id"])
                for r in table_rows(pipeline, model.table, "id, _account_id")
            ]
            assert len(ids) == len(set(ids)), model.table
