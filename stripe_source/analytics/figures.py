"""The figures a report shows, read from the views: MRR and its movements per month, churn, and
net revenue per day, each per account and currency (amounts in the currency's minor units)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import dlt

MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivated")
# Stripe counts amounts in these currencies in whole units, every other one in hundredths
# (Stripe's "zero-decimal currencies").
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())


def in_units(amount: float, currency: str) -> float:
    """An amount in Stripe's minor units as currency units (cents to dollars, yen as yen)."""
    return amount if currency.lower() in ZERO_DECIMAL else amount / 100


@dataclass
class Month:
    month: date
    mrr: float
    customers: int
    movements: dict[str, float]
    churned_customers: int = 0
    customer_churn_rate: float | None = None
    mrr_churn_rate: float | None = None
    net_revenue: float = 0.0


@dataclass
class Series:
    """Everything the report says about one currency of one account."""

    account_id: str
    currency: str
    months: list[Month] = field(default_factory=list)
    days: list[tuple[date, float]] = field(default_factory=list)

    @property
    def latest(self) -> Month | None:
        return self.months[-1] if self.months else None


def _number(value: Decimal | int | float | None) -> float:
    """Sums come back as Decimal, int or float depending on the database; null is none."""
    return 0.0 if value is None else float(value)


def _rows(client: Any, view: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    qualified = client.make_qualified_table_name(view)
    with client.execute_query(f"select {columns} from {qualified} order by {order}") as cursor:
        return list(cursor.fetchall())


def read_figures(pipeline: dlt.Pipeline) -> list[Series]:
    """One series per account and currency that has MRR or balance activity, months and days
    in time order. A month's net revenue is the sum of its days'."""
    series: dict[tuple[str, str], Series] = {}

    def of(account_id: str, currency: str) -> Series:
        key = (account_id, currency)
        if key not in series:
            series[key] = Series(account_id, currency)
        return series[key]

    with pipeline.sql_client() as client:
        for row in _rows(
            client,
            "mrr_monthly",
            "account_id, currency, month, mrr, customers, new_mrr, expansion_mrr, "
            "contraction_mrr, churned_mrr, reactivated_mrr",
            "account_id, currency, month",
        ):
            account_id, currency, month, mrr, customers, *moved = row
            of(account_id, currency).months.append(
                Month(
                    month=month,
                    mrr=_number(mrr),
                    customers=int(_number(customers)),
                    movements={
                        name: _number(value) for name, value in zip(MOVEMENTS, moved, strict=True)
                    },
                )
            )
        churn = {
            (account_id, currency, month): (churned, customer_rate, mrr_rate)
            for account_id, currency, month, churned, customer_rate, mrr_rate in _rows(
                client,
                "churn_monthly",
                "account_id, currency, month, churned_customers, customer_churn_rate, "
                "mrr_churn_rate",
                "account_id, currency, month",
            )
        }
        for account_id, currency, day, net_revenue in _rows(
            client,
            "daily_balance",
            "account_id, currency, day, net_revenue",
            "account_id, currency, day",
        ):
            of(account_id, currency).days.append((day, _number(net_revenue)))

    for found in series.values():
        revenue: dict[date, float] = {}
        for day, amount in found.days:
            month = day.replace(day=1)
            revenue[month] = revenue.get(month, 0.0) + amount
        for month in found.months:
            churned, customer_rate, mrr_rate = churn.get(
                (found.account_id, found.currency, month.month), (0, None, None)
            )
            month.churned_customers = int(_number(churned))
            month.customer_churn_rate = None if customer_rate is None else float(customer_rate)
            month.mrr_churn_rate = None if mrr_rate is None else float(mrr_rate)
            month.net_revenue = revenue.get(month.month, 0.0)
    return sorted(series.values(), key=lambda s: (s.account_id, s.currency))
