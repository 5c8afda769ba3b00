"""`stripe-sync sync-models --demo`: the whole job on a seeded local emulator, no account needed."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from stripe_source.analytics.report import build_report
from stripe_source.emulator.runner import start_emulator
from stripe_source.keys import ApiKey
from stripe_source.progress import print_summary
from stripe_source.runner import make_pipeline, run_sync

DEMO_OBJECTS = 5_000
DEMO_FILE = "stripe_demo.duckdb"
DEMO_DATASET = "stripe"
DEMO_REPORT_DIR = "stripe_demo_report"
EXAMPLE_QUERY = """
select currency,
       count(*)                      as charges,
       sum(amount) / 100.0           as gross,
       sum(amount_refunded) / 100.0  as refunded
from stripe.charges
where status = 'succeeded'
group by currency
order by gross desc
"""


def run_demo(args: argparse.Namespace) -> int:
    console = Console()
    with start_emulator(objects=DEMO_OBJECTS) as emulator:
        console.print(f"Emulator serving a seeded test account at {emulator.url}")
        pipeline = make_pipeline(
            "duckdb", DEMO_DATASET, pipeline_name="stripe_demo", duckdb_file=DEMO_FILE
        )
        result = run_sync(
            pipeline,
            [ApiKey(emulator.secret_key)],
            models=args.models or None,
            api_base=emulator.url,
            rate_limit=args.rate_limit,
            show_progress=not args.no_progress,
        )
    print_summary(result.report, console)

    console.print(f"\nLoaded into {DEMO_FILE} (dataset {DEMO_DATASET}). Try:")
    console.print(EXAMPLE_QUERY.strip(), style="cyan")
    with duckdb.connect(DEMO_FILE, read_only=True) as connection:
        cursor = connection.execute(EXAMPLE_QUERY)
        table = Table(*[column[0] for column in cursor.description])
        for row in cursor.fetchall():
            table.add_row(
                *(f"{value:,}" if isinstance(value, int | float) else str(value) for value in row)
            )
    console.print(table)

    console.print("\nMoney answers as views (mrr_monthly, churn_monthly, daily_balance, ...):")
    build_report(pipeline, Path(DEMO_REPORT_DIR), console)
    console.print(
        f"Open it in a browser; refresh it later with "
        f"`stripe-sync report --duckdb-file {DEMO_FILE} --out {DEMO_REPORT_DIR}`."
    )
    return result.exit_code
