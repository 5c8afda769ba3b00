"""The analytics views and `stripe-sync report`, checked against the emulator's ground truth.

A small account is built through the official SDK over three months, with the emulator billing
each renewal as its clock moves: monthly, yearly and weekly plans, a trial, a percentage and an
amount coupon, a quantity up and one down, a cancellation and the same customer back a month
later, a refund, in two currencies. Each view's figures must equal what
`tests/analytics_truth.py` computes from `/_emulator/state`, on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import stripe

from stripe_source.analytics import VIEWS, create_views
from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.cli import EXIT_BAD_INPUT, EXIT_OK, main
from stripe_source.config import BadInputError
from stripe_source.emulator.factories import Ids, build_payment_method
from stripe_source.emulator.runner import RunningEmulator, start_emulator
from stripe_source.emulator.seed import account_id
from stripe_source.emulator.store import Clock, Store
from stripe_source.keys import ApiKey
from stripe_source.runner import run_sync
from tests import analytics_truth as truth
from tests.conftest import NOW, POSTGRES_URL
from tests.support import FAST, emulator_state, table_rows

pytestmark = pytest.mark.slow

DAY = 86_400
ACCOUNT = account_id(1)
TEAM, ANNUAL, EUROPA, STARTER, WEEKLY = 5_000, 120_000, 3_000, 2_000, 1_000
PERCENT_OFF = 20
AMOUNT_OFF = 12_000  # off each yearly invoice
# what the views read; syncing only these keeps the tests quick
SOURCE_MODELS = [
    "BalanceTransaction",
    "Customer",
    "Price",
    "Subscription",
    "SubscriptionItem",
    "Invoice",
    "InvoiceLineItem",
    "PaymentIntent",
    "Charge",
]


def _customer(emulator: RunningEmulator, client: stripe.StripeClient, name: str) -> str:
    """A customer with a saved card as the default for invoices (the emulator has no endpoint
    to attach one, so the card is stored as Stripe.js would have created it)."""
    account = emulator.store.accounts[ACCOUNT]
    customer = client.v1.customers.create(params={"email": f"{name}@example.com", "name": name})
    ids = Ids(account.id, account.number, random.Random(name), taken=account.objects.__contains__)
    card = build_payment_method(
        ids, customer=customer.id, created=emulator.store.clock.now(), name=name, email=None
    )
    emulator.store.add(account, MODELS_BY_NAME["PaymentMethod"], card)
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card["id"]}}
    )
    return customer.id


def _price(client: stripe.StripeClient, name: str, amount: int, currency: str, interval: str):
    product = client.v1.products.create(params={"name": name})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": amount,
            "currency": currency,
            "recurring": {"interval": interval},
        }
    ).id


def _subscribe(client: stripe.StripeClient, customer: str, price: str, quantity: int = 1, **more):
    return client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price, "quantity": quantity}], **more}
    )


def _quantity(client: stripe.StripeClient, subscription, quantity: int) -> None:
    item = subscription["items"]["data"][0]["id"]
    client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": item, "quantity": quantity}]}
    )


def _until(emulator: RunningEmulator, moment: int) -> int:
    return emulator.advance_clock(moment - emulator.store.clock.now(), bill_renewals=True)


def _billing_story(emulator: RunningEmulator) -> Iterator[int]:
    """Three months of an account's billing from 2026-01-01 to 2026-03-10, told through the SDK;
    yields the time after each step, so a test can sync part way."""
    client = emulator.client()
    team = _price(client, "Team", TEAM, "usd", "month")
    annual = _price(client, "Annual", ANNUAL, "usd", "year")
    europa = _price(client, "Europa", EUROPA, "eur", "month")
    starter = _price(client, "Starter", STARTER, "usd", "month")
    weekly = _price(client, "Weekly", WEEKLY, "usd", "week")
    coupon = client.v1.coupons.create(params={"percent_off": PERCENT_OFF, "duration": "forever"})
    amount_coupon = client.v1.coupons.create(
        params={"amount_off": AMOUNT_OFF, "currency": "usd", "duration": "forever"}
    )
    alice, bob, chloe, dan, erin, frank = (
        _customer(emulator, client, name)
        for name in ("alice", "bob", "chloe", "dan", "erin", "frank")
    )

    # January: five plans start, one of them in a 45-day trial
    alice_team = _subscribe(client, alice, team, 2, discounts=[{"coupon": coupon.id}])
    _subscribe(client, bob, annual, discounts=[{"coupon": amount_coupon.id}])
    chloe_europa = _subscribe(client, chloe, europa, 2)
    dan_starter = _subscribe(client, dan, starter)
    _subscribe(client, erin, weekly)
    _subscribe(client, frank, team, trial_period_days=45)
    bob_charge = client.v1.charges.list(params={"customer": bob}).data[0]
    client.v1.refunds.create(params={"charge": bob_charge.id, "amount": 30_000})

    yield _until(emulator, NOW + 19 * DAY)
    _quantity(client, alice_team, 3)  # billed from the February renewal
    yield _until(emulator, NOW + 40 * DAY)
    client.v1.subscriptions.cancel(dan_starter.id)
    yield _until(emulator, NOW + 45 * DAY)
    _quantity(client, chloe_europa, 1)  # billed from the March renewal
    yield _until(emulator, NOW + 63 * DAY)
    _subscribe(client, dan, starter)  # dan is back
    yield _until(emulator, NOW + 68 * DAY)


def _empty_account() -> RunningEmulator:
    store = Store(Clock(NOW))
    store.add_account(ACCOUNT, 1)
    return start_emulator(store=store)


@pytest.fixture(scope="module")
def billing_account() -> Iterator[RunningEmulator]:
    """The whole story, told once for the tests that only read it."""
    with _empty_account() as emulator:
        for _ in _billing_story(emulator):
            pass
        yield emulator


@pytest.fixture
def synced(billing_account, make_test_pipeline):
    """The account fully synced into the destination under test, with the views created."""
    pipeline = make_test_pipeline()
    result = run_sync(
        pipeline,
        [ApiKey(billing_account.secret_key)],
        models=SOURCE_MODELS,
        api_base=billing_account.url,
        rate_limit=FAST,
        show_progress=False,
    )
    assert result.exit_code == 0, [e for e in result.report.rows() if e.message]
    assert create_views(pipeline) == list(VIEWS)
    return pipeline, emulator_state(billing_account, ACCOUNT), billing_account.store.clock.now()


def _number(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def _plain(value):
    """Numbers as 4-decimal Decimals, whatever type the database returned; the rest as is."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _number(value)
    return value


def _view(pipeline, view: str, key: tuple[str, ...]) -> dict[tuple, dict]:
    rows = table_rows(pipeline, view)
    assert all(row["account_id"] == ACCOUNT for row in rows), view
    found = {tuple(row[k] for k in key): row for row in rows}
    assert len(found) == len(rows), f"{view} repeats a {key}"
    return found


def _assert_rows_equal(found: dict, expected: dict, columns: list[str]) -> None:
    assert sorted(found) == sorted(expected)
    for key, row in expected.items():
        got = {c: _number(found[key][c]) for c in columns}
        want = {c: _number(row[c]) for c in columns}
        assert got == want, key


def test_mrr_monthly_equals_the_billed_subscriptions_month_by_month(synced):
    pipeline, state, as_of = synced

    found = _view(pipeline, "mrr_monthly", ("currency", "month"))

    expected = truth.mrr_monthly(state, as_of)
    columns = ["mrr", "customers", *(f"{m}_mrr" for m in truth.MOVES)]
    columns += ["new_customers", "churned_customers", "reactivated_customers"]
    _assert_rows_equal(found, expected, columns)

    # the story the account was built to tell, in the prices' own terms
    jan, feb, mar = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
    assert set(found) == {(c, m) for c in ("usd", "eur") for m in (jan, feb, mar)}
    discount = Decimal(100 - PERCENT_OFF) / 100
    weekly = Decimal(WEEKLY) * 52 / 12
    assert _number(found[("usd", jan)]["mrr"]) == _number(
        2 * TEAM * discount + Decimal(ANNUAL - AMOUNT_OFF) / 12 + STARTER + weekly
    )
    assert _number(found[("usd", feb)]["expansion_mrr"]) == _number(TEAM * discount)
    assert _number(found[("usd", feb)]["churned_mrr"]) == -STARTER
    assert _number(found[("usd", feb)]["new_mrr"]) == TEAM  # the trial ended
    assert _number(found[("usd", mar)]["reactivated_mrr"]) == STARTER
    assert _number(found[("eur", mar)]["contraction_mrr"]) == -EUROPA
    for (currency, month), row in found.items():
        if month == jan:
            continue
        before = found[(currency, date(2026, month.month - 1, 1))]["mrr"]
        moved = sum(row[f"{m}_mrr"] for m in truth.MOVES)
        assert _number(row["mrr"]) == _number(before + moved), (currency, month)


def test_incremental_syncs_between_renewals_keep_mrr_monthly_true(make_test_pipeline):
    pipeline = make_test_pipeline()
    with _empty_account() as emulator:
        story = _billing_story(emulator)
        for _ in range(2):  # to 2026-02-10, after the first renewals
            next(story)
        _incremental_sync(pipeline, emulator)
        create_views(pipeline)  # later syncs load into tables that views read
        for _ in story:
            pass

        _incremental_sync(pipeline, emulator)
        create_views(pipeline)

        state = emulator_state(emulator, ACCOUNT)
        expected = truth.mrr_monthly(state, emulator.store.clock.now())
    found = _view(pipeline, "mrr_monthly", ("currency", "month"))
    columns = ["mrr", "customers", *(f"{m}_mrr" for m in truth.MOVES)]
    _assert_rows_equal(found, expected, columns)
    assert len(found) == 6


def _incremental_sync(pipeline, emulator: RunningEmulator) -> None:
    result = run_sync(
        pipeline,
        [ApiKey(emulator.secret_key)],
        models=SOURCE_MODELS,
        api_base=emulator.url,
        rate_limit=FAST,
        incremental=True,
        show_progress=False,
    )
    assert result.exit_code == 0, [e for e in result.report.rows() if e.message]


def test_churn_monthly_counts_what_was_there_at_each_months_start(synced):
    pipeline, state, as_of = synced

    found = _view(pipeline, "churn_monthly", ("currency", "month"))

    expected = truth.churn_monthly(state, as_of)
    _assert_rows_equal(
        found, expected, ["customers_at_start", "mrr_at_start", "churned_customers", "churned_mrr"]
    )
    for key, row in expected.items():
        rate = found[key]["customer_churn_rate"]
        if row["customers_at_start"]:
            assert rate == pytest.approx(row["churned_customers"] / row["customers_at_start"])
        else:
            assert rate is None


def test_daily_balance_adds_up_the_balance_transactions_of_each_day(synced):
    pipeline, state, _ = synced

    found = _view(pipeline, "daily_balance", ("currency", "day"))

    expected = truth.daily_balance(state)
    columns = ["gross_sales", "refunds", "disputes", "fees", "payouts", "net", "net_revenue"]
    _assert_rows_equal(found, expected, [*columns, "running_balance"])
    assert any(row["refunds"] < 0 for row in found.values())


def test_customer_overview_sums_each_customers_payments_and_subscriptions(synced):
    pipeline, state, as_of = synced

    found = _view(pipeline, "customer_overview", ("customer", "currency"))

    mrr = truth.customer_mrr(state, as_of)
    latest = max(month for _, _, month in mrr)
    expected = {}
    for customer in state["Customer"]:
        charges = [c for c in state["Charge"] if c["customer"] == customer["id"]]
        paid = [c for c in charges if c["status"] == "succeeded"]
        (currency,) = {c["currency"] for c in charges}
        gross = sum(c["amount"] for c in paid)
        refunds = sum(c["amount_refunded"] for c in paid)
        expected[(customer["id"], currency)] = {
            "gross": gross,
            "refunds": refunds,
            "net": gross - refunds,
            "failed_charges": len(charges) - len(paid),
            "first_payment_at": truth.utc(min(c["created"] for c in paid)),
            "last_payment_at": truth.utc(max(c["created"] for c in paid)),
            "active_subscriptions": sum(
                1
                for s in state["Subscription"]
                if s["customer"] == customer["id"]
                and s["status"] in ("active", "trialing", "past_due")
            ),
            "current_mrr": mrr.get((currency, customer["id"], latest), 0),
            "delinquent": customer["delinquent"],
        }
    assert sorted(found) == sorted(expected)
    for key, row in expected.items():
        assert {c: _plain(found[key][c]) for c in row} == {c: _plain(v) for c, v in row.items()}


def test_invoice_and_subscription_details_match_the_invoices_billed(synced):
    pipeline, state, as_of = synced

    invoices = _view(pipeline, "invoice_details", ("invoice",))
    subscriptions = _view(pipeline, "subscription_details", ("subscription",))

    lines = state["InvoiceLineItem"]
    assert sorted(invoices) == sorted((i["id"],) for i in state["Invoice"])
    for invoice in state["Invoice"]:
        row = invoices[(invoice["id"],)]
        assert row["line_count"] == sum(1 for line in lines if line["invoice"] == invoice["id"])
        for field in ("status", "total", "amount_due", "amount_paid", "amount_remaining"):
            assert row[field] == invoice[field], (invoice["id"], field)
        assert row["discounts"] == sum(d["amount"] for d in invoice["total_discount_amounts"])

    taken_at = as_of  # the latest month is the current one: its MRR is taken at the sync
    mrr_lines = truth.mrr_lines(state)
    assert sorted(subscriptions) == sorted((s["id"],) for s in state["Subscription"])
    for subscription in state["Subscription"]:
        row = subscriptions[(subscription["id"],)]
        items = [i for i in state["SubscriptionItem"] if i["subscription"] == subscription["id"]]
        billed = [
            i
            for i in state["Invoice"]
            if (i.get("parent") or {}).get("subscription_details", {}).get("subscription")
            == subscription["id"]
        ]
        expected = {
            "status": subscription["status"],
            "item_count": len(items),
            "quantity": sum(i["quantity"] for i in items),
            "interval": items[0]["price"]["recurring"]["interval"],
            "list_amount": sum(i["quantity"] * i["price"]["unit_amount"] for i in items),
            "invoices": len(billed),
            "billed_to_date": sum(i["total"] for i in billed if i["status"] in ("open", "paid")),
            "paid_to_date": sum(i["amount_paid"] for i in billed),
            "current_mrr": _number(
                sum(
                    line["mrr"]
                    for line in mrr_lines
                    if line["subscription"] == subscription["id"]
                    and truth.counts_at(line, taken_at)
                )
            ),
        }
        got = {k: row[k] for k in expected}
        got["current_mrr"] = _number(got["current_mrr"])
        assert got == expected, subscription["id"]


@pytest.fixture
def declined_account():
    """A seeded account with declined payments, one of them paid later with another card."""
    with start_emulator(seed=7, objects=600, now=NOW) as emulator:
        state = emulator_state(emulator, ACCOUNT)
        declined = [c["payment_intent"] for c in state["Charge"] if c["status"] == "failed"]
        intents = {pi["id"]: pi for pi in state["PaymentIntent"]}
        waiting = [i for i in declined if intents[i]["status"] == "requires_payment_method"]
        assert waiting, "the seed should decline some payments"
        emulator.client().v1.payment_intents.confirm(
            waiting[0], params={"payment_method": "pm_card_visa"}
        )
        yield emulator


def test_failed_payments_lists_declines_with_their_codes_and_recoveries(
    declined_account, make_test_pipeline
):
    pipeline = make_test_pipeline()
    result = run_sync(
        pipeline,
        [ApiKey(declined_account.secret_key)],
        models=["Charge", "PaymentIntent", "BalanceTransaction"],
        api_base=declined_account.url,
        rate_limit=FAST,
        show_progress=False,
    )
    assert result.exit_code == 0
    create_views(pipeline)
    state = emulator_state(declined_account, ACCOUNT)

    found = _view(pipeline, "failed_payments", ("id",))

    expected = truth.failed_payments(state)
    assert sorted(found) == sorted((key,) for key in expected)
    for key, row in expected.items():
        assert {c: found[(key,)][c] for c in row} == row, key
    assert any(row["recovered"] for row in expected.values())
    _assert_rows_equal(
        _view(pipeline, "daily_balance", ("currency", "day")),
        truth.daily_balance(state),
        ["gross_sales", "refunds", "disputes", "fees", "payouts", "net", "running_balance"],
    )


def test_views_refuse_a_dataset_without_synced_tables(make_test_pipeline):
    pipeline = make_test_pipeline()

    with pytest.raises(BadInputError, match="has no synced Stripe tables"):
        create_views(pipeline)


def test_report_prints_the_latest_month_and_writes_charts_a_browser_draws(
    synced, destination, tmp_path, capsys, monkeypatch
):
    pipeline, state, as_of = synced
    where = ["--destination", destination, "--dataset", pipeline.dataset_name]
    if destination == "duckdb":
        where += ["--duckdb-file", str(tmp_path / "stripe.duckdb")]
    else:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", POSTGRES_URL)

    code = main(["report", *where, "--out", str(tmp_path / "out")])

    assert code == EXIT_OK
    printed = capsys.readouterr().out
    monthly = truth.mrr_monthly(state, as_of)
    assert "2026-03" in printed
    for currency in ("usd", "eur"):
        assert f"{monthly[(currency, date(2026, 3, 1))]['mrr'] / 100:,.2f}" in printed
    report = tmp_path / "out" / "report.html"
    assert "http" not in re.sub(r'"http://www\.w3\.org/2000/svg"', "", report.read_text())

    dom = _rendered(report)

    # per currency an MRR chart with a point per month at the month's MRR, its movements as
    # bars, and a bar per day with balance activity
    assert dom.count('data-chart="mrr"') == dom.count('data-chart="revenue"') == 2
    points = [Decimal(v) for v in re.findall(r'class="mrr-point" data-value="([-\d.]+)"', dom)]
    assert points == [
        _number(monthly[(currency, month)]["mrr"] / 100).quantize(Decimal("0.01"))
        for currency in ("eur", "usd")
        for month in (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))
    ]
    for movement in truth.MOVES:
        bars = sum(1 for row in monthly.values() if row[f"{movement}_mrr"])
        assert dom.count(f'class="movement" data-movement="{movement}"') == bars, movement
    days = {(txn["currency"], txn["created"] // DAY) for txn in state["BalanceTransaction"]}
    assert dom.count('class="revenue-day"') == len(days)


def _rendered(report: Path) -> str:
    """The page's DOM after headless chromium ran its script."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "chromium is required under CI to check report.html (apt-get install chromium)"
            )
        pytest.skip("no chromium to load report.html (apt-get install chromium)")
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def test_report_on_an_empty_dataset_is_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()

    code = main(["report", "--duckdb-file", str(empty), "--out", str(tmp_path)])

    assert code == EXIT_BAD_INPUT
    assert "has no synced Stripe tables" in capsys.readouterr().err
