"""Full sync end to end: emulator over HTTP -> dlt -> DuckDB and PostgreSQL, checked exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_source.catalog import MODELS, MODELS_BY_NAME
from stripe_source.keys import ApiKey
from stripe_source.report import Outcome
from stripe_source.runner import run_sync
from tests.support import (
    FAST,
    assert_row_equals_object,
    emulator_state,
    table_exists,
    table_rows,
)

pytestmark = pytest.mark.slow


def _ids_by_account(pipeline, table: str) -> list[tuple[str, str]]:
    if not table_exists(pipeline, table):
        return []
    return [(r["_account_id"], r["id"]) for r in table_rows(pipeline, table, "id, _account_id")]


def _expected_ids(states: dict[str, dict], model_name: str) -> list[tuple[str, str]]:
    return [
        (account_id, obj["id"])
        for account_id, state in states.items()
        for obj in state.get(model_name, [])
    ]


def _account_ids(emulator) -> list[str]:
    return [a.id for a in emulator.store.accounts.values() if a.platform is None]


def _keys(emulator) -> list[ApiKey]:
    return [ApiKey(emulator.keys(n).secret) for n in (1, 2)]


def test_every_live_object_of_every_model_lands_exactly_once(seeded_accounts, make_test_pipeline):
    pipeline = make_test_pipeline()

    result = run_sync(
        pipeline,
        _keys(seeded_accounts),
        api_base=seeded_accounts.url,
        rate_limit=FAST,
        show_progress=False,
    )

    assert result.exit_code == 0, result.report.rows()
    states = {acct: emulator_state(seeded_accounts, acct) for acct in _account_ids(seeded_accounts)}
    for model in MODELS:
        loaded = _ids_by_account(pipeline, model.table)
        expected = _expected_ids(states, model.name)
        assert len(loaded) == len(set(loaded)), f"duplicates in {model.table}"
        assert sorted(loaded) == sorted(expected), model.name


def test_field_values_equal_the_emulator_for_a_sample_of_every_model(
    seeded_accounts, make_test_pipeline
):
    pipeline = make_test_pipeline()
    run_sync(
        pipeline,
        _keys(seeded_accounts)[:1],
        api_base=seeded_accounts.url,
        rate_limit=FAST,
        show_progress=False,
    )
    account_id = _account_ids(seeded_accounts)[0]
    state = emulator_state(seeded_accounts, account_id)

    compared = 0
    for model in MODELS:
        sample = state.get(model.name, [])[:3]
        if not sample:
            continue
        rows = {
            r["id"]: r for r in table_rows(pipeline, model.table) if r["_account_id"] == account_id
        }
        for obj in sample:
            compared += assert_row_equals_object(rows[obj["id"]], obj, model)
    assert compared > 500


def test_children_beyond_the_first_ten_embedded_are_all_loaded(seeded_accounts, make_test_pipeline):
    pipeline = make_test_pipeline()
    run_sync(
        pipeline,
        _keys(seeded_accounts)[:1],
        models=["Invoice", "InvoiceLineItem"],
        api_base=seeded_accounts.url,
        rate_limit=FAST,
        show_progress=False,
    )
    account_id = _account_ids(seeded_accounts)[0]
    account = seeded_accounts.store.accounts[account_id]
    invoice_line_items = MODELS_BY_NAME["InvoiceLineItem"]

    expected = {
        invoice["id"]: len(
            seeded_accounts.store.children_ids(account, invoice["id"], invoice_line_items)
        )
        for invoice in emulator_state(seeded_accounts, account_id)["Invoice"]
    }
    loaded: dict[str, int] = {}
    for row in table_rows(pipeline, "invoice_line_items", "_parent_id"):
        loaded[row["_parent_id"]] = loaded.get(row["_parent_id"], 0) + 1

    assert max(expected.values()) > 10
    assert loaded == {invoice: count for invoice, count in expected.items() if count}


def test_choosing_keys_by_account_id_syncs_only_that_account(seeded_accounts, make_test_pipeline):
    pipeline = make_test_pipeline()
    second = _account_ids(seeded_accounts)[1]

    run_sync(
        pipeline,
        _keys(seeded_accounts),
        models=["Customer"],
        account_ids=[second],
        api_base=seeded_accounts.url,
        rate_limit=FAST,
        show_progress=False,
    )

    loaded = _ids_by_account(pipeline, "customers")
    assert {account for account, _ in loaded} == {second}
    assert sorted(loaded) == sorted(
        _expected_ids({second: emulator_state(seeded_accounts, second)}, "Customer")
    )


def test_a_second_run_adds_no_rows(seeded_accounts, make_test_pipeline):
    pipeline = make_test_pipeline()
    models = ["Customer", "Subscription", "SubscriptionItem", "Invoice", "InvoiceLineItem"]
    run = dict(models=models, api_base=seeded_accounts.url, rate_limit=FAST, show_progress=False)

    run_sync(pipeline, _keys(seeded_accounts), **run)
    first = {m: len(_ids_by_account(pipeline, MODELS_BY_NAME[m].table)) for m in models}
    run_sync(pipeline, _keys(seeded_accounts), **run)
    second = {m: len(_ids_by_account(pipeline, MODELS_BY_NAME[m].table)) for m in models}

    assert first == second
    assert all(first.values())


def test_rate_limits_and_injected_faults_still_give_exact_tables(
    fresh_emulator, make_test_pipeline
):
    fresh_emulator.config(rate_limit=40, fault_rate=0.1)
    pipeline = make_test_pipeline()
    models = ["Customer", "Charge", "Invoice", "InvoiceLineItem", "BalanceTransaction"]

    result = run_sync(
        pipeline,
        [ApiKey(fresh_emulator.secret_key)],
        models=models,
        api_base=fresh_emulator.url,
        rate_limit=60,
        show_progress=False,
    )

    account_id = _account_ids(fresh_emulator)[0]
    state = emulator_state(fresh_emulator, account_id)
    assert result.exit_code == 0
    assert sum(e.retries for e in result.report.rows()) > 0
    for name in models:
        model = MODELS_BY_NAME[name]
        assert sorted(_ids_by_account(pipeline, model.table)) == sorted(
            _expected_ids({account_id: state}, name)
        ), name


def test_a_restricted_key_skips_what_it_cannot_read_and_loads_the_rest(
    fresh_emulator, make_test_pipeline
):
    pipeline = make_test_pipeline()
    restricted = ApiKey(fresh_emulator.keys(1).restricted)

    result = run_sync(
        pipeline,
        [restricted],
        models=["Customer", "Payout"],
        api_base=fresh_emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )

    outcomes = {entry.model: entry.outcome for entry in result.report.rows()}
    assert outcomes == {"Customer": Outcome.OK, "Payout": Outcome.SKIPPED}
    account_id = _account_ids(fresh_emulator)[0]
    assert sorted(_ids_by_account(pipeline, "customers")) == sorted(
        _expected_ids({account_id: emulator_state(fresh_emulator, account_id)}, "Customer")
    )


def test_a_rejected_key_stops_that_key_and_the_others_go_on(fresh_emulator, make_test_pipeline):
    pipeline = make_test_pipeline()
    unknown = ApiKey("sk_test_emulator999999999999999999999999")

    result = run_sync(
        pipeline,
        [unknown, ApiKey(fresh_emulator.secret_key)],
        models=["Customer"],
        api_base=fresh_emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )

    assert result.exit_code == 1
    assert list(result.report.key_errors) == ["sk_test_…9999"]
    assert len(_ids_by_account(pipeline, "customers")) == len(
        emulator_state(fresh_emulator, _account_ids(fresh_emulator)[0])["Customer"]
    )


def test_no_api_key_is_stored_in_the_pipeline_folder_or_the_database(
    fresh_emulator, make_test_pipeline, tmp_path: Path
):
    pipeline = make_test_pipeline()
    run_sync(
        pipeline,
        [ApiKey(fresh_emulator.secret_key)],
        models=["Customer"],
        api_base=fresh_emulator.url,
        rate_limit=FAST,
        show_progress=False,
    )

    secret = fresh_emulator.secret_key.encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
