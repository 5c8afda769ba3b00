"""Running a sync end to end: accounts, the dlt pipeline, progress while it runs, the summary."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.extract.source import DltSource

from stripe_source.accounts import StripeAccount, connect_accounts
from stripe_source.catalog import MODELS
from stripe_source.config import KEYS_SETTING, BadInputError, configured_duckdb_memory_limit
from stripe_source.destination import DestinationReader, Tombstone, apply_tombstones
from stripe_source.keys import ApiKey
from stripe_source.progress import live_progress
from stripe_source.report import SyncReport
from stripe_source.source import stripe_source

logger = logging.getLogger(__name__)

DESTINATIONS = ("duckdb", "postgres")
# Not `stripe.duckdb`: DuckDB names the catalog after the file, and a catalog named like the
# default dataset (`stripe`) makes every unqualified `stripe.<table>` ambiguous.
DEFAULT_DUCKDB_FILE = "stripe_sync.duckdb"
WRITE_BUFFER_ROWS = 500


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
    pipeline_name: str | None = None,
    duckdb_file: str | Path = DEFAULT_DUCKDB_FILE,
    postgres_credentials: str | None = None,
    pipelines_dir: str | Path | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline on DuckDB (a local file) or PostgreSQL (dlt's postgres credentials).

    dlt keeps a pipeline's state (our cursors) in a folder named after the pipeline, shared by
    every directory it runs from, and resolves a relative DuckDB path against the directory of
    its first run. So the DuckDB path is made absolute, and the default name is derived from
    where the data goes: syncing into another file or dataset starts from its own cursors
    instead of trusting those of a different database.
    """
    if destination == "duckdb":
        location = str(Path(duckdb_file).resolve())
        target: Any = dlt.destinations.duckdb(
            DuckDbCredentials(location, global_config=_duckdb_settings())
        )
    else:
        location = _without_password(postgres_credentials or "")
        # without explicit credentials dlt reads them from its config
        target = dlt.destinations.postgres(**_given(credentials=postgres_credentials))
    return dlt.pipeline(
        pipeline_name=pipeline_name or default_pipeline_name(destination, location, dataset),
        destination=target,
        dataset_name=dataset,
        **_given(pipelines_dir=str(pipelines_dir) if pipelines_dir else None),
    )


def _given(**arguments: Any) -> dict[str, Any]:
    """The arguments that were given: dlt falls back to its config for the ones left out."""
    return {name: value for name, value in arguments.items() if value is not None}


def _duckdb_settings() -> dict[str, Any]:
    """DuckDB runs inside this process and by default may take 80% of the machine's memory for
    the merge that ends each load, so the load's peak grew with the account (1 GB for 400,000
    objects). Capped, DuckDB spills to a temporary folder beside the database file instead:
    measured on 400,000 objects, 256 MB gives a load peak of 450 MB in 9 s against 7 s uncapped;
    64 MB is too little for the widest tables. Insertion order is not kept: no table relies on it,
    and keeping it makes DuckDB buffer whole inserts.
    """
    return {"memory_limit": configured_duckdb_memory_limit(), "preserve_insertion_order": False}


def default_pipeline_name(destination: str, location: str, dataset: str) -> str:
    """`stripe_sync_<dataset>_<digest of destination and location>`: stable per database."""
    digest = hashlib.sha1(f"{destination}|{location}|{dataset}".encode()).hexdigest()[:8]
    return f"stripe_sync_{dataset}_{digest}"


def _without_password(credentials: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", credentials)


def configure_extraction(resource_count: int) -> None:
    """Let every resource drain its own queue at once.

    Each model's resource waits on pages that the per-key thread pools fetch; dlt must poll all of
    them together or a full queue would stall the pool that feeds the others.
    """
    workers = max(8, resource_count + 2)
    dlt.config["extract.workers"] = workers
    dlt.config["extract.max_parallel_items"] = workers
    _bound_write_buffers()


def _bound_write_buffers() -> None:
    """Hold at most 500 rows per table before dlt writes them to a file, unless configured.

    dlt's default of 5,000 is meant for narrow rows; a Stripe sync writes about a hundred tables
    of wide objects, so once the big tables fill their buffers they hold hundreds of MB, more
    the bigger the account. Measured on 100,000 objects: 455 to 372 MB while extracting and 588
    to 461 MB while normalizing, at the same speed.
    """
    if dlt.config.get("data_writer.buffer_max_items") is None:
        dlt.config["data_writer.buffer_max_items"] = WRITE_BUFFER_ROWS


class SyncInProgressError(Exception):
    """Another run holds this pipeline."""


@contextmanager
def pipeline_lock(pipeline: dlt.Pipeline) -> Iterator[None]:
    """One run per pipeline at a time: a second scheduled run exits instead of racing the first.

    The lock is an advisory `flock` on a file in the pipeline's working folder, released by the
    operating system if the process dies, so a killed run never leaves a stale lock behind.
    """
    folder = Path(pipeline.working_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "sync.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncInProgressError(
                f"another sync of pipeline {pipeline.pipeline_name} is running; "
                "wait for it to finish or check for a stuck process"
            ) from None
        yield


SourceFactory = Callable[[list[StripeAccount], SyncReport, DestinationReader], DltSource]


def run_sync(
    pipeline: dlt.Pipeline,
    keys: list[ApiKey],
    *,
    models: Sequence[str] | None = None,
    api_base: str,
    rate_limit: float | None = None,
    account_ids: Sequence[str] = (),
    incremental: bool = False,
    hard_deletes: bool = False,
    show_progress: bool = True,
) -> SyncResult:
    """Sync every selected model of every key into the pipeline's dataset.

    A full sync lists everything; an incremental one lists what is new and applies events.
    `account_ids` narrows the keys to those reading these accounts (`--api-keys acct_…`).
    """

    def make_source(
        accounts: list[StripeAccount], report: SyncReport, reader: DestinationReader
    ) -> DltSource:
        return stripe_source(
            api_keys=[],
            models=list(models or []),
            api_base=api_base,
            incremental=incremental,
            hard_deletes=hard_deletes,
            accounts=accounts,
            report=report,
            reader=reader,
        )

    return run_source(
        pipeline,
        keys,
        make_source,
        api_base=api_base,
        rate_limit=rate_limit,
        account_ids=account_ids,
        hard_deletes=hard_deletes,
        show_progress=show_progress,
    )


def run_source(
    pipeline: dlt.Pipeline,
    keys: list[ApiKey],
    make_source: SourceFactory,
    *,
    api_base: str,
    rate_limit: float | None = None,
    account_ids: Sequence[str] = (),
    hard_deletes: bool = False,
    show_progress: bool = True,
) -> SyncResult:
    """Run a source built for the accounts the keys read, under the pipeline's lock.

    Deletions a killed run learned are applied first, and those this run learned after it.
    """
    with pipeline_lock(pipeline):
        report = SyncReport()
        accounts = _connect(keys, api_base, rate_limit, account_ids, report)
        if not accounts:
            return SyncResult(report, None)

        apply_tombstones(pipeline, saved_tombstones(pipeline), hard_deletes=hard_deletes)
        reader = DestinationReader(pipeline)
        try:
            source = make_source(accounts, report, reader)
            configure_extraction(len(source.resources) or len(MODELS))
            with live_progress(report, enabled=show_progress):
                load_info = pipeline.run(source, loader_file_format="parquet")
        finally:
            reader.close()
            for account in accounts:
                account.close()
        apply_tombstones(pipeline, saved_tombstones(pipeline), hard_deletes=hard_deletes)
    logger.info("loaded into %s", pipeline.dataset_name)
    return SyncResult(report, load_info)


def _connect(
    keys: list[ApiKey],
    api_base: str,
    rate_limit: float | None,
    account_ids: Sequence[str],
    report: SyncReport,
) -> list[StripeAccount]:
    accounts = connect_accounts(keys, api_base=api_base, rate_limit=rate_limit, report=report)
    if not account_ids:
        return accounts
    known = {account.account_id for account in accounts}
    unknown = [wanted for wanted in account_ids if wanted not in known]
    if unknown:
        for account in accounts:
            account.close()
        raise BadInputError(
            f"no configured key reads account {unknown[0]}; configured keys read: "
            f"{', '.join(sorted(known)) or 'none'}; add its key to {KEYS_SETTING}"
        )
    return [account for account in accounts if account.account_id in account_ids]


def saved_tombstones(pipeline: dlt.Pipeline) -> list[Tombstone]:
    """Tombstones the last extracted run saved in the source state, for every writer."""
    state = pipeline.state.get("sources", {}).get("stripe", {})
    return [
        Tombstone.from_state(saved)
        for writer in state.get("tombstones", {}).values()
        for saved in writer
    ]
