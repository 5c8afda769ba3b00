"""`stripe-sync report`: refresh the views, print the latest month's headline numbers, write the
HTML report."""

from __future__ import annotations

from pathlib import Path

import dlt
from rich.console import Console
from rich.table import Table

from stripe_source.analytics.figures import MOVEMENTS, Series, in_units, read_figures
from stripe_source.analytics.html import write_report
from stripe_source.analytics.views import create_views


def _money(amount: float, currency: str) -> str:
    return f"{in_units(amount, currency):,.2f}"


def _rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def headline_table(series: list[Series]) -> Table:
    """The latest month of each series, one column per account and currency: MRR, its
    movements, churn and net revenue."""
    table = Table(title="Latest month (amounts in currency units)")
    table.add_column("")
    rows: dict[str, list[str]] = {
        name: []
        for name in ("month", "MRR", "customers", *MOVEMENTS, "customer churn", "MRR churn")
    }
    rows["net revenue"] = []
    for s in series:
        table.add_column(f"{s.currency.upper()}\n{s.account_id}", justify="right")
        latest = s.latest
        if latest is None:
            # balance activity without subscriptions: only revenue to show
            month = s.days[-1][0].replace(day=1)
            revenue = sum(amount for day, amount in s.days if day.replace(day=1) == month)
            for values in rows.values():
                values.append("–")
            rows["month"][-1], rows["net revenue"][-1] = (
                f"{month:%Y-%m}",
                _money(revenue, s.currency),
            )
            continue
        rows["month"].append(f"{latest.month:%Y-%m}")
        rows["MRR"].append(_money(latest.mrr, s.currency))
        rows["customers"].append(f"{latest.customers:,}")
        for name in MOVEMENTS:
            rows[name].append(_money(latest.movements[name], s.currency))
        rows["customer churn"].append(_rate(latest.customer_churn_rate))
        rows["MRR churn"].append(_rate(latest.mrr_churn_rate))
        rows["net revenue"].append(_money(latest.net_revenue, s.currency))
    for name, values in rows.items():
        table.add_row(name, *values)
    return table


def build_report(pipeline: dlt.Pipeline, directory: Path, console: Console | None = None) -> Path:
    """Create or refresh the views, print the headline numbers and write `report.html` into
    `directory`; returns the file's path.

    Raises:
        BadInputError: the dataset has no synced tables.
    """
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=200)
    views = create_views(pipeline)
    console.print(f"Views refreshed in dataset {pipeline.dataset_name}: {', '.join(views)}")
    series = read_figures(pipeline)
    if series:
        console.print(headline_table(series))
    else:
        console.print("No subscriptions or balance activity in the synced tables yet.")
    path = write_report(series, directory, title=pipeline.dataset_name)
    console.print(f"Report written to {path.resolve()}")
    return path
