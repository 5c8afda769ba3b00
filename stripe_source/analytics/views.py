"""Create or refresh the analytics views in a pipeline's dataset, on DuckDB and PostgreSQL.

Each view is one `.sql` file in `sql/`, written once in the SQL both databases speak, and says
above its query what it counts and what it leaves out. In a file, `{name}` is a synced table
(see `tables.py`) or a view defined before it in `VIEWS`.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import dlt

from stripe_source.analytics.tables import TABLES, describe, subquery
from stripe_source.config import BadInputError

logger = logging.getLogger(__name__)

# In dependency order: a view reads only tables and the views before it.
VIEWS = (
    "mrr_invoice_lines",
    "mrr_customer_monthly",
    "mrr_monthly",
    "churn_monthly",
    "daily_balance",
    "customer_overview",
    "invoice_details",
    "subscription_details",
    "failed_payments",
)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Without any of these there is nothing to report on.
CORE_TABLES = ("charges", "invoices", "subscriptions", "balance_transactions")


def view_sql(view: str) -> str:
    """The query of a view as shipped, with its `{placeholders}`."""
    return resources.files("stripe_source.analytics").joinpath("sql", f"{view}.sql").read_text()


def create_views(pipeline: dlt.Pipeline) -> list[str]:
    """Create or replace every view in the pipeline's dataset; returns their names.

    Raises:
        BadInputError: the dataset holds none of the synced tables the views read.
    """
    with pipeline.sql_client() as client:
        found = describe(client, [synced.table for synced in TABLES.values()])
        if not any(table in found for table in CORE_TABLES):
            raise BadInputError(
                f"dataset {client.dataset_name!r} has no synced Stripe tables "
                f"(looked for {', '.join(CORE_TABLES)}); run `stripe-sync sync-models` "
                "with the same --destination and --dataset first"
            )
        sources = {
            name: subquery(
                synced,
                client.make_qualified_table_name(synced.table),
                found.get(synced.table),
            )
            for name, synced in TABLES.items()
        }
        qualified = {view: client.make_qualified_table_name(view) for view in VIEWS}

        # views read each other: drop them all before creating any, so a view whose columns
        # changed can be replaced (PostgreSQL refuses `create or replace` then)
        for view in reversed(VIEWS):
            client.execute_sql(f"drop view if exists {qualified[view]}")
        for view in VIEWS:
            sql = PLACEHOLDER.sub(lambda m: sources.get(m[1]) or qualified[m[1]], view_sql(view))
            client.execute_sql(f"create view {qualified[view]} as {sql}")
        logger.info("created %d views in %s", len(VIEWS), client.dataset_name)
    return list(VIEWS)
