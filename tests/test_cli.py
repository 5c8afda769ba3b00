"""Bad input gets one clear line, a distinct exit code, and touches nothing already synced."""

from __future__ import annotations

import pytest

from stripe_source.cli import EXIT_BAD_INPUT, main

KEY = "sk_test_emulator000000000000000000000001"
OTHER_KEY = "sk_test_emulator000000000000000000000009"


@pytest.fixture
def one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__STRIPE_SOURCE__API_KEYS", f'["{KEY}"]')


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_unknown_model_exits_2_listing_the_valid_names(one_key, capsys):
    assert main(["sync-models", "Invoice", "Nope", "--no-progress"]) == EXIT_BAD_INPUT
    line = _error_line(capsys)
    assert "'Nope'" in line and "PaymentIntent" in line and "stripe-sync models" in line


def test_models_are_found_by_class_object_or_table_name_in_any_case():
    from stripe_source.config import choose_models

    names = ["invoiceitem", "INVOICE_ITEMS", "InvoiceItem", "checkout.session", "Session"]
    assert [m.name for m in choose_models(names)] == ["InvoiceItem", "Session"]


def test_a_key_that_is_not_configured_exits_2_naming_it_masked(one_key, capsys):
    assert main(["sync-models", "--api-keys", OTHER_KEY, "--no-progress"]) == EXIT_BAD_INPUT
    line = _error_line(capsys)
    assert "sk_test_…0009" in line and OTHER_KEY not in line and KEY not in line


def test_no_configured_key_exits_2_saying_where_keys_go(capsys):
    assert main(["sync-models", "--no-progress"]) == EXIT_BAD_INPUT
    assert "STRIPE_API_KEY" in _error_line(capsys)


def test_an_unreachable_api_base_exits_2_naming_the_address(one_key, capsys):
    code = main(["sync-models", "Customer", "--api-base", "http://127.0.0.1:9", "--no-progress"])
    assert code == EXIT_BAD_INPUT
    assert "http://127.0.0.1:9" in _error_line(capsys)


def test_the_models_command_lists_every_catalog_model(capsys):
    from stripe_source.catalog import MODELS

    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    assert all(model.table in printed for model in MODELS)
