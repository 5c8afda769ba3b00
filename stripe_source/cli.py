"""`stripe-sync`: the command line.

Exit codes: 0 success; 1 a model or key failed (everything else was still loaded); 2 bad input
(unknown model, unconfigured key, unreachable API); 3 the emulator's port is taken; 4 another sync
of the same pipeline is still running.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stripe_source.accounts import ApiUnreachableError
from stripe_source.analytics.report import build_report
from stripe_source.backfill import EventSelection, run_backfill
from stripe_source.catalog import MODELS
from stripe_source.config import (
    BadInputError,
    choose_keys,
    choose_models,
    configured_api_base,
    configured_hard_deletes,
    configured_keys,
)
from stripe_source.emulator import cli as emulator_cli
from stripe_source.progress import print_backfill, print_summary
from stripe_source.runner import (
    DEFAULT_DUCKDB_FILE,
    DESTINATIONS,
    SyncInProgressError,
    make_pipeline,
    run_sync,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 4

logger = logging.getLogger("stripe_source")


def _add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="class name, object type or table name (default: all models)",
    )
    _add_connection_arguments(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="sync a seeded local emulator into stripe_demo.duckdb; no key needed",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v INFO, -vv DEBUG")


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-keys",
        nargs="+",
        metavar="KEY",
        help="configured keys, or the acct_ ids they read, to sync (default: all)",
    )
    parser.add_argument("--destination", choices=DESTINATIONS, default="duckdb")
    parser.add_argument("--dataset", default="stripe", help="dataset (schema) name")
    parser.add_argument("--duckdb-file", default=DEFAULT_DUCKDB_FILE, help="DuckDB database file")
    parser.add_argument("--api-base", help="Stripe-compatible API address (default: Stripe)")
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="RPS",
        help="requests per second per key (default: 25 test, 100 live)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stripe-sync", description="Copy Stripe accounts into DuckDB or PostgreSQL."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sync_models = commands.add_parser("sync-models", help="full sync of some or all models")
    _add_sync_arguments(sync_models)
    sync_models.set_defaults(handler=_sync_models, incremental=False)

    sync = commands.add_parser(
        "sync", help="incremental sync: new objects by created cursor, changes from events"
    )
    _add_sync_arguments(sync)
    sync.set_defaults(handler=_sync_models, incremental=True)

    process = commands.add_parser(
        "process-events",
        help="backfill events (the last 30 days) and apply them to the tables again",
    )
    process.add_argument("--ids", nargs="+", metavar="EVT", help="these events, by id")
    process.add_argument(
        "--failed", action="store_true", help="events whose webhook delivery has not succeeded"
    )
    process.add_argument(
        "--type",
        dest="types",
        nargs="+",
        metavar="GLOB",
        help="event types, with * wildcards: 'payment_intent.*' 'customer.subscription.*'",
    )
    _add_connection_arguments(process)
    process.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 errors only, 1 a summary (default), 2 one line per event and tracebacks",
    )
    process.set_defaults(handler=_process_events)

    models = commands.add_parser("models", help="list the models in the catalog")
    models.set_defaults(handler=_list_models)

    report = commands.add_parser(
        "report",
        help="create or refresh the analytics views, print the latest month, write report.html",
    )
    report.add_argument("--destination", choices=DESTINATIONS, default="duckdb")
    report.add_argument("--dataset", default="stripe", help="dataset (schema) name")
    report.add_argument("--duckdb-file", default=DEFAULT_DUCKDB_FILE, help="DuckDB database file")
    report.add_argument("--out", default=".", metavar="DIR", help="folder for report.html")
    report.add_argument("-v", "--verbose", action="count", default=0, help="-v INFO, -vv DEBUG")
    report.set_defaults(handler=_report)

    emulator_cli.register(commands)
    return parser


def _log_level(args: argparse.Namespace) -> int:
    """`-v` counts up from warnings for the sync commands; process-events takes dj-stripe's
    `-v 0|1|2`: errors only, warnings (the default), or everything at INFO."""
    if hasattr(args, "verbosity"):
        return (logging.ERROR, logging.WARNING, logging.INFO)[args.verbosity]
    return {0: logging.WARNING, 1: logging.INFO}.get(getattr(args, "verbose", 0), logging.DEBUG)


def _configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stripe").setLevel(max(level, logging.WARNING))
    # dlt warns about every column that stayed null in a load: noise for Stripe's sparse
    # objects, so only its errors show unless asked for detail
    # (the CLI owns its process; dlt reads this when it sets up its logger)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "DEBUG" if level <= logging.DEBUG else "ERROR")


def _list_models(args: argparse.Namespace) -> int:
    table = Table(title=f"{len(MODELS)} Stripe models")
    for column in ("model", "object", "table", "listed at", "created filter", "parent"):
        table.add_column(column, no_wrap=True)
    for model in MODELS:
        table.add_row(
            model.name,
            model.object,
            model.table,
            model.path,
            "yes" if model.created_filter else "no",
            model.parent or "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
    return EXIT_OK


def _sync_models(args: argparse.Namespace) -> int:
    if args.demo:
        from stripe_source.demo import run_demo

        return run_demo(args)

    models = choose_models(args.models)
    keys = choose_keys(configured_keys(), args.api_keys)
    account_ids = [wanted for wanted in args.api_keys or [] if wanted.startswith("acct_")]
    pipeline = make_pipeline(args.destination, args.dataset, duckdb_file=args.duckdb_file)

    result = run_sync(
        pipeline,
        keys,
        models=[model.name for model in models],
        api_base=configured_api_base(args.api_base),
        rate_limit=args.rate_limit,
        account_ids=account_ids,
        incremental=args.incremental,
        hard_deletes=configured_hard_deletes(),
        show_progress=not args.no_progress,
    )
    print_summary(result.report)
    return result.exit_code


def _process_events(args: argparse.Namespace) -> int:
    selection = EventSelection(
        ids=tuple(args.ids or ()), types=tuple(args.types or ()), failed=args.failed
    )
    keys = choose_keys(configured_keys(), args.api_keys)
    account_ids = [wanted for wanted in args.api_keys or [] if wanted.startswith("acct_")]
    pipeline = make_pipeline(args.destination, args.dataset, duckdb_file=args.duckdb_file)

    synced, result = run_backfill(
        pipeline,
        keys,
        selection,
        api_base=configured_api_base(args.api_base),
        rate_limit=args.rate_limit,
        account_ids=account_ids,
        hard_deletes=configured_hard_deletes(),
        show_progress=args.verbosity > 0 and not args.no_progress,
    )
    print_backfill(synced.report, result, args.verbosity)
    return EXIT_FAILED if synced.report.failed or result.failed else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    if args.destination == "duckdb" and not Path(args.duckdb_file).is_file():
        raise BadInputError(
            f"no DuckDB file {args.duckdb_file!r}; pass the --duckdb-file a sync wrote to, "
            "or run `stripe-sync sync-models` first"
        )
    pipeline = make_pipeline(args.destination, args.dataset, duckdb_file=args.duckdb_file)
    build_report(pipeline, Path(args.out))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(_log_level(args))
    try:
        return int(args.handler(args))
    except (BadInputError, ApiUnreachableError) as error:
        print(f"stripe-sync: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SyncInProgressError as error:
        print(f"stripe-sync: {error}", file=sys.stderr)
        return EXIT_BUSY


if __name__ == "__main__":
    sys.exit(main())
