"""The synced tables the analytics views read, and how each view sees them.

A table only has the columns dlt has seen a value for: a Stripe field that was null in every
object loaded so far (no declined charge yet, no discounted invoice line) has no column, and a
model never synced has no table. So the views do not read tables directly: each `{name}` in
their SQL becomes a subquery over the table with exactly the columns declared here, a missing
one as a typed null. That subquery also leaves out rows marked deleted and turns every time into
a UTC timestamp without time zone, so months and days do not depend on the session's time zone.
The columns are looked up when the views are created: one that first appears in a later sync is
read once the views are created again (`stripe-sync report` does that each time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# kinds of column: SQL type of the null that stands in for a missing column
NULLS = {
    "text": "cast(null as varchar)",
    "int": "cast(null as bigint)",
    "bool": "cast(null as boolean)",
    "time": "cast(null as timestamp)",
}
# column types that hold Stripe's unix seconds as numbers
NUMBER_TYPES = ("bigint", "integer", "smallint", "hugeint", "numeric", "decimal", "double")


@dataclass(frozen=True)
class SyncedTable:
    """A destination table as the views read it.

    `live_only` leaves out rows marked deleted; prices keep them, since invoice lines still
    name prices that were deleted later.
    """

    table: str
    columns: dict[str, str]
    live_only: bool = True


ACCOUNT = {"_account_id": "text", "_updated_at": "time"}

TABLES: dict[str, SyncedTable] = {
    "customers": SyncedTable(
        "customers",
        {
            **ACCOUNT,
            "id": "text",
            "email": "text",
            "name": "text",
            "currency": "text",
            "created": "time",
            "delinquent": "bool",
        },
    ),
    "subscriptions": SyncedTable(
        "subscriptions",
        {
            **ACCOUNT,
            "id": "text",
            "customer": "text",
            "status": "text",
            "currency": "text",
            "created": "time",
            "start_date": "time",
            "trial_end": "time",
            "cancel_at_period_end": "bool",
            "canceled_at": "time",
            "ended_at": "time",
        },
    ),
    "subscription_items": SyncedTable(
        "subscription_items",
        {
            **ACCOUNT,
            "id": "text",
            "subscription": "text",
            "quantity": "int",
            "price__id": "text",
            "price__unit_amount": "int",
            "price__recurring__interval": "text",
            "price__recurring__interval_count": "int",
            "current_period_start": "time",
            "current_period_end": "time",
        },
    ),
    "prices": SyncedTable(
        "prices",
        {
            **ACCOUNT,
            "id": "text",
            "recurring__interval": "text",
            "recurring__interval_count": "int",
        },
        live_only=False,
    ),
    "invoices": SyncedTable(
        "invoices",
        {
            **ACCOUNT,
            "id": "text",
            "number": "text",
            "customer": "text",
            "parent__subscription_details__subscription": "text",
            "billing_reason": "text",
            "status": "text",
            "currency": "text",
            "created": "time",
            "due_date": "time",
            "status_transitions__paid_at": "time",
            "period_start": "time",
            "period_end": "time",
            "subtotal": "int",
            "total_excluding_tax": "int",
            "total": "int",
            "amount_due": "int",
            "amount_paid": "int",
            "amount_remaining": "int",
        },
    ),
    "invoice_lines": SyncedTable(
        "invoice_line_items",
        {
            **ACCOUNT,
            "_dlt_id": "text",
            "id": "text",
            "invoice": "text",
            "subscription": "text",
            "currency": "text",
            "amount": "int",
            "quantity": "int",
            "pricing__price_details__price": "text",
            "period__start": "time",
            "period__end": "time",
            "parent__type": "text",
            "parent__subscription_item_details__proration": "bool",
        },
    ),
    "line_discounts": SyncedTable(
        "invoice_line_items__discount_amounts",
        {"_dlt_parent_id": "text", "amount": "int"},
        live_only=False,
    ),
    "charges": SyncedTable(
        "charges",
        {
            **ACCOUNT,
            "id": "text",
            "customer": "text",
            "payment_intent": "text",
            "status": "text",
            "currency": "text",
            "amount": "int",
            "amount_refunded": "int",
            "created": "time",
            "failure_code": "text",
            "failure_message": "text",
            "outcome__reason": "text",
        },
    ),
    "payment_intents": SyncedTable(
        "payment_intents",
        {
            **ACCOUNT,
            "id": "text",
            "customer": "text",
            "status": "text",
            "currency": "text",
            "amount": "int",
            "created": "time",
            "last_payment_error__code": "text",
            "last_payment_error__decline_code": "text",
            "last_payment_error__message": "text",
        },
    ),
    "balance_transactions": SyncedTable(
        "balance_transactions",
        {
            **ACCOUNT,
            "id": "text",
            "currency": "text",
            "amount": "int",
            "fee": "int",
            "net": "int",
            "reporting_category": "text",
            "created": "time",
        },
    ),
}

# Columns renamed for the views: invoice lines' period is `period_start`/`period_end`, as on
# invoices.
RENAMED = {"period__start": "period_start", "period__end": "period_end"}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(name: str, kind: str, found_type: str | None) -> str:
    alias = quote(RENAMED.get(name, name))
    if found_type is None:
        return f"{NULLS[kind]} as {alias}"
    column = quote(name)
    if kind != "time":
        return f"{column} as {alias}"
    found_type = found_type.lower()
    if found_type.startswith(NUMBER_TYPES):
        # Stripe's unix seconds that dlt kept as numbers (invoice line periods)
        return f"cast(to_timestamp({column}) at time zone 'UTC' as timestamp) as {alias}"
    if "with time zone" in found_type:
        return f"cast({column} at time zone 'UTC' as timestamp) as {alias}"
    return f"cast({column} as timestamp) as {alias}"


def subquery(synced: SyncedTable, qualified: str, found: dict[str, str] | None) -> str:
    """The SQL a view reads in place of a table; `found` maps the table's columns to their
    types (None: no such table)."""
    if found is None:
        nulls = ", ".join(_column(name, kind, None) for name, kind in synced.columns.items())
        return f"(select {nulls} where 1 = 0)"
    columns = ", ".join(
        _column(name, kind, found.get(name)) for name, kind in synced.columns.items()
    )
    where = ""
    if synced.live_only and "is_deleted" in found:
        where = " where not coalesce(is_deleted, false)"
    return f"(select {columns} from {qualified}{where})"


def describe(client: Any, tables: list[str]) -> dict[str, dict[str, str]]:
    """Columns and their types of each of `tables` that exists in the client's dataset."""
    marks = ", ".join(["%s"] * len(tables))
    sql = (
        "select table_name, column_name, data_type from information_schema.columns "
        f"where table_schema = %s and table_name in ({marks})"
    )
    found: dict[str, dict[str, str]] = {}
    with client.execute_query(sql, client.dataset_name, *tables) as cursor:
        for table, column, data_type in cursor.fetchall():
            found.setdefault(table, {})[column] = data_type
    return found
