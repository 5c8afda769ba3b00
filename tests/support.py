"""Helpers the end-to-end tests share: ground truth from the emulator, rows from a destination."""

from __future__ import annotations

import dlt
import requests

from stripe_source.emulator.runner import RunningEmulator

FAST = 1_000.0  # requests/s: the emulator has no limit unless a test sets one


def emulator_state(emulator: RunningEmulator, account_id: str) -> dict[str, list[dict]]:
    """Ground truth over HTTP: every live object of the account per model name."""
    response = requests.get(f"{emulator.url}/_emulator/state", params={"account": account_id})
    response.raise_for_status()
    return response.json()["accounts"][account_id]


def table_rows(pipeline: dlt.Pipeline, table: str, columns: str = "*") -> list[dict]:
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        with client.execute_query(f"select {columns} from {qualified}") as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    return table in pipeline.default_schema.tables and bool(
        pipeline.default_schema.get_table_columns(table)
    )
