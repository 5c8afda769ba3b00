"""Running a sync end to end: accounts, the dlt pipeline, progress while it runs, the summary."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from stripe_source.accounts import connect_accounts
from stripe_source.catalog import MODELS
from stripe_source.config import KEYS_SETTING, BadInputError
from stripe_source.keys import ApiKey
from stripe_source.progress import live_progress
from stripe_source.report import SyncReport
from stripe_source.source import stripe_source

logger = logging.getLogger(__name__)

DESTINATIONS = ("duckdb", "postgres")
DEFAULT_DUCKDB_FILE = "stripe.duckdb"


@dataclass
class SyncResult:
    report: SyncReport
    load_info: LoadInfo | None

    @property
    def exit_code(self) -> int:
        return 1 if self.report.failed else 0


def make_pipeline(
    destination: str,
    dataset: str,
    *,
    pipeline_name: str = "stripe_sync",
    duckdb_file: str | Path = DEFAULT_DUCKDB_FILE,
    postgres_credentials: str | None = None,
    pipelines_dir: str | Path | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline on DuckDB (a local file) or PostgreSQL (dlt's postgres credentials)."""
    if destination == "duckdb":
        target: Any = dlt.destinations.duckdb(str(duckdb_file))
    else:
        target = dlt.destinations.postgres(credentials=postgres_credentials)
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=target,
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir) if pipelines_dir else None,
    )


def configure_extraction(resource_count: int) -> None:
    """Let every resource drain its own queue at once.

    Each model's resource waits on pages that the per-key thread pools fetch; dlt must poll all of
    them together or a full queue would stall the pool that feeds the others.
    """
    workers = max(8, resource_count + 2)
    dlt.config["extract.workers"] = workers
    dlt.config["extract.max_parallel_items"] = workers


def run_sync(
    pipeline: dlt.Pipeline,
    keys: list[ApiKey],
    *,
    models: Sequence[str] | None = None,
    api_base: str,
    rate_limit: float | None = None,
    account_ids: Sequence[str] = (),
    show_progress: bool = True,
) -> SyncResult:
    """List every selected model of every key and merge it into the pipeline's dataset.

    `account_ids` narrows the keys to those reading these accounts (`--api-keys acct_…`).
    """
    report = SyncReport()
    accounts = connect_accounts(keys, api_base=api_base, rate_limit=rate_limit, report=report)
    if account_ids:
        known = {account.account_id for account in accounts}
        unknown = [wanted for wanted in account_ids if wanted not in known]
        if unknown:
            for account in accounts:
                account.close()
            raise BadInputError(
                f"no configured key reads account {unknown[0]}; configured keys read: "
                f"{', '.join(sorted(known)) or 'none'}; add its key to {KEYS_SETTING}"
            )
        accounts = [account for account in accounts if account.account_id in account_ids]
    if not accounts:
        return SyncResult(report, None)

    try:
        source = stripe_source(
            api_keys=[],
            models=list(models or []),
            api_base=api_base,
            accounts=accounts,
            report=report,
        )
        configure_extraction(len(source.resources) or len(MODELS))
        with live_progress(report, enabled=show_progress):
            load_info = pipeline.run(source, loader_file_format="parquet")
    finally:
        for account in accounts:
            account.close()
    logger.info("loaded into %s", pipeline.dataset_name)
    return SyncResult(report, load_info)
