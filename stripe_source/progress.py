"""What a person sees: a live table of models while the sync runs, and a summary at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table

from stripe_source.report import Outcome, SyncReport

_STYLE = {Outcome.OK: "green", Outcome.SKIPPED: "yellow", Outcome.FAILED: "red"}


def _progress_table(report: SyncReport) -> Table:
    table = Table(title="Syncing Stripe", expand=False)
    for column in ("model", "account", "rows", "pages"):
        table.add_column(column, justify="right" if column in ("rows", "pages") else "left")
    for entry in report.rows():
        if entry.finished is None:
            table.add_row(entry.model, entry.account, f"{entry.rows:,}", f"{entry.pages:,}")
    done = sum(1 for entry in report.rows() if entry.finished is not None)
    total_rows = sum(entry.rows for entry in report.rows())
    table.caption = f"{done} models done, {total_rows:,} rows so far"
    return table


@contextmanager
def live_progress(report: SyncReport, *, enabled: bool = True) -> Iterator[None]:
    """Refresh the in-flight models four times a second on stderr, leaving stdout clean."""
    if not enabled:
        yield
        return
    console = Console(stderr=True)
    with Live(
        get_renderable=lambda: _progress_table(report),
        console=console,
        refresh_per_second=4,
        transient=True,
    ):
        yield


def summary_table(report: SyncReport) -> Table:
    """One row per model and account; the key column only says which key read that account."""
    entries = report.rows()
    several_accounts = len({entry.account for entry in entries}) > 1
    table = Table(title="Stripe sync summary")
    table.add_column("model", no_wrap=True)
    if several_accounts:
        table.add_column("account", no_wrap=True)
    for column in ("rows", "requests", "retries", "seconds"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status")
    for entry in entries:
        status = entry.outcome.value + (f": {entry.message}" if entry.message else "")
        cells = [entry.model, *([entry.account] if several_accounts else [])]
        cells += [
            f"{entry.rows:,}",
            f"{entry.requests:,}",
            f"{entry.retries:,}",
            f"{entry.seconds:.1f}",
            f"[{_STYLE[entry.outcome]}]{status}[/]",
        ]
        table.add_row(*cells)
    accounts = sorted({f"{entry.account} ({entry.key})" for entry in entries})
    table.caption = (
        f"{sum(e.rows for e in entries):,} rows, {sum(e.requests for e in entries):,} requests, "
        f"{sum(e.retries for e in entries):,} retries; accounts: {', '.join(accounts)}"
    )
    return table


def print_summary(report: SyncReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(report))
    for key, message in report.key_errors.items():
        console.print(f"[red]key {key}: {message}[/]")
