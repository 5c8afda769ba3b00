"""What each analytics view should say, computed in Python from `/_emulator/state`.

These follow the definitions the README and the views' SQL state, from the emulator's objects
as Stripe serves them, never from the synced tables.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from stripe_source.emulator.seed import add_interval

MONTHS_PER_INTERVAL = {"month": 1, "year": 12, "week": Decimal(12) / 52, "day": Decimal(12) / 365}


def utc(seconds: int | None) -> datetime | None:
    """Unix seconds as the naive UTC timestamp the views give."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def month_start(seconds: int) -> int:
    moment = datetime.fromtimestamp(seconds, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def mrr_lines(state: dict) -> list[dict]:
    """Lines of open and paid subscription invoices, not prorations, with their monthly value."""
    invoices = {i["id"]: i for i in state.get("Invoice", [])}
    prices = {p["id"]: p for p in state.get("Price", [])}
    subscriptions = {s["id"]: s for s in state.get("Subscription", [])}
    found = []
    for line in state.get("InvoiceLineItem", []):
        parent = line.get("parent") or {}
        details = parent.get("subscription_item_details")
        invoice = invoices[line["invoice"]]
        if details is None or details["proration"] or invoice["status"] not in ("open", "paid"):
            continue
        price = prices[line["pricing"]["price_details"]["price"]]
        recurring = price["recurring"]
        amount = line["amount"] - sum(d["amount"] for d in line["discount_amounts"])
        months = MONTHS_PER_INTERVAL[recurring["interval"]] * recurring["interval_count"]
        subscription = subscriptions[details["subscription"]]
        found.append(
            {
                "customer": invoice["customer"],
                "subscription": subscription["id"],
                "currency": line["currency"],
                "start": line["period"]["start"],
                "end": line["period"]["end"],
                "ended_at": subscription["ended_at"],
                "status": subscription["status"],
                "mrr": Decimal(amount) / Decimal(months),
            }
        )
    return found


def counts_at(line: dict, moment: int) -> bool:
    """A line counts toward MRR at `moment` when its period covers it and its subscription had
    not ended (the views' rule)."""
    return (
        line["start"] < moment <= line["end"]
        and (line["ended_at"] is None or line["ended_at"] >= moment)
        and line["status"] not in ("incomplete", "incomplete_expired")
    )


def customer_mrr(state: dict, as_of: int) -> dict[tuple[str, str, date], Decimal]:
    """MRR per (currency, customer, month) at each month's end, the current month at `as_of`,
    from each customer's first month with MRR on (0 after churn)."""
    lines = mrr_lines(state)
    if not lines:
        return {}
    month = month_start(min(line["start"] for line in lines))
    snapshots = []
    while month <= as_of:
        snapshots.append((month, min(add_interval(month, "month"), as_of)))
        month = add_interval(month, "month")

    billed: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for month, taken_at in snapshots:
        for line in lines:
            if counts_at(line, taken_at):
                billed[(line["currency"], line["customer"], month)] += line["mrr"]
    first: dict[tuple[str, str], int] = {}
    for currency, customer, month in billed:
        key = (currency, customer)
        first[key] = min(first.get(key, month), month)
    return {
        (currency, customer, utc(month).date()): billed.get((currency, customer, month), Decimal(0))
        for (currency, customer), start in first.items()
        for month, _ in snapshots
        if month >= start
    }


def movements(mrr: dict[tuple[str, str, date], Decimal]) -> dict[tuple[str, str, date], str]:
    """Each customer-month's movement: new, reactivated, expansion, contraction, churned, none."""
    found = {}
    history: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for (currency, customer, month), value in sorted(mrr.items(), key=lambda kv: kv[0][2]):
        history[(currency, customer)].append((month, value))
    for (currency, customer), months in history.items():
        previous, was_active = Decimal(0), False
        for month, value in months:
            if previous == 0 and value > 0:
                movement = "reactivated" if was_active else "new"
            elif previous > 0 and value == 0:
                movement = "churned"
            elif value > previous:
                movement = "expansion"
            elif value < previous:
                movement = "contraction"
            else:
                movement = "none"
            found[(currency, customer, month)] = movement
            was_active = was_active or value > 0
            previous = value
    return found


def mrr_monthly(state: dict, as_of: int) -> dict[tuple[str, date], dict]:
    """The mrr_monthly rows of one account, keyed by (currency, month)."""
    mrr = customer_mrr(state, as_of)
    moved = movements(mrr)
    rows: dict[tuple[str, date], dict] = {}
    previous = _previous(mrr)
    for (currency, customer, month), value in mrr.items():
        row = rows.setdefault(
            (currency, month),
            {
                "mrr": Decimal(0),
                "customers": 0,
                **{f"{m}_mrr": Decimal(0) for m in MOVES},
                **{f"{m}_customers": 0 for m in ("new", "churned", "reactivated")},
            },
        )
        row["mrr"] += value
        row["customers"] += value > 0
        movement = moved[(currency, customer, month)]
        if movement != "none":
            row[f"{movement}_mrr"] += value - previous[(currency, customer, month)]
        if movement in ("new", "churned", "reactivated"):
            row[f"{movement}_customers"] += 1
    return rows


MOVES = ("new", "expansion", "contraction", "churned", "reactivated")


def _previous(mrr: dict[tuple[str, str, date], Decimal]) -> dict[tuple[str, str, date], Decimal]:
    found = {}
    for currency, customer, month in mrr:
        earlier = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
        found[(currency, customer, month)] = mrr.get((currency, customer, earlier), Decimal(0))
    return found


def churn_monthly(state: dict, as_of: int) -> dict[tuple[str, date], dict]:
    mrr = customer_mrr(state, as_of)
    moved = movements(mrr)
    previous = _previous(mrr)
    rows: dict[tuple[str, date], dict] = {}
    for key in mrr:
        currency, _, month = key
        row = rows.setdefault(
            (currency, month),
            {
                "customers_at_start": 0,
                "mrr_at_start": Decimal(0),
                "churned_customers": 0,
                "churned_mrr": Decimal(0),
            },
        )
        row["customers_at_start"] += previous[key] > 0
        row["mrr_at_start"] += previous[key]
        if moved[key] == "churned":
            row["churned_customers"] += 1
            row["churned_mrr"] += previous[key]
    return rows


def daily_balance(state: dict) -> dict[tuple[str, date], dict]:
    rows: dict[tuple[str, date], dict] = {}
    for txn in state.get("BalanceTransaction", []):
        day = utc(txn["created"]).date()
        row = rows.setdefault(
            (txn["currency"], day),
            {"gross_sales": 0, "refunds": 0, "disputes": 0, "fees": 0, "payouts": 0, "net": 0},
        )
        category = txn["reporting_category"]
        if category == "charge":
            row["gross_sales"] += txn["amount"]
        elif category == "refund":
            row["refunds"] += txn["amount"]
        elif category in ("dispute", "dispute_reversal"):
            row["disputes"] += txn["amount"]
        elif category in ("payout", "payout_reversal"):
            row["payouts"] += txn["amount"]
        row["fees"] -= txn["fee"]
        row["net"] += txn["net"]
    balances: dict[str, int] = defaultdict(int)
    for currency, day in sorted(rows, key=lambda key: key[1]):
        row = rows[(currency, day)]
        balances[currency] += row["net"]
        row["running_balance"] = balances[currency]
        row["net_revenue"] = row["gross_sales"] + row["refunds"] + row["disputes"] + row["fees"]
    return rows


def failed_payments(state: dict) -> dict[str, dict]:
    """Failed charges, and payment intents whose last attempt failed with no failed charge."""
    intents = {pi["id"]: pi for pi in state.get("PaymentIntent", [])}
    rows = {}
    failed_intents = set()
    for charge in state.get("Charge", []):
        if charge["status"] != "failed":
            continue
        intent = intents.get(charge["payment_intent"]) or {}
        failed_intents.add(charge["payment_intent"])
        error = intent.get("last_payment_error") or {}
        rows[charge["id"]] = {
            "kind": "charge",
            "failure_code": charge["failure_code"],
            "decline_code": (charge.get("outcome") or {}).get("reason")
            or error.get("decline_code"),
            "recovered": intent.get("status") == "succeeded",
        }
    for intent in intents.values():
        error = intent.get("last_payment_error")
        if not error or not error.get("code") or intent["id"] in failed_intents:
            continue
        rows[intent["id"]] = {
            "kind": "payment_intent",
            "failure_code": error["code"],
            "decline_code": error.get("decline_code"),
            "recovered": intent["status"] == "succeeded",
        }
    return rows
