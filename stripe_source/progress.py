"""What a person sees: a live table of models while the sync runs, and a summary at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table

from stripe_source.changes import Status
from stripe_source.report import Outcome, SyncReport

if TYPE_CHECKING:
    from stripe_source.backfill import BackfillResult

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


def backfill_table(result: BackfillResult) -> Table:
    """Per account: events selected and what became of them, and how far back Stripe serves."""
    table = Table(title="Stripe events processed")
    table.add_column("account", no_wrap=True)
    for column in ("events", *(status.value for status in Status)):
        table.add_column(column, justify="right", no_wrap=True)
    for account in sorted(result.served_since):
        mine = [event for event in result.events if event.account_id == account]
        counts = [sum(1 for event in mine if event.status is status) for status in Status]
        table.add_row(account, f"{len(mine):,}", *(f"{count:,}" for count in counts))

    oldest = min(result.served_since.values(), default=None)
    notes = []
    if oldest is not None:
        served = datetime.fromtimestamp(oldest, UTC).strftime("%Y-%m-%d %H:%M UTC")
        notes.append(f"Stripe serves events for 30 days: since {served}")
    unmodelled = Counter(e.type for e in result.events if e.status is Status.UNMODELLED)
    if unmodelled:
        notes.append(
            "stored, not modelled: "
            + ", ".join(f"{kind} ({count})" for kind, count in unmodelled.most_common())
        )
    table.caption = "; ".join(notes)
    return table


def print_backfill(report: SyncReport, result: BackfillResult, verbosity: int) -> None:
    """`-v 0` only what went wrong (on stderr), `-v 1` a summary too, `-v 2` every event and
    the traceback of each failure."""
    out, errors = Console(), Console(stderr=True)
    if verbosity >= 2:
        for event in result.events:
            style = _EVENT_STYLE[event.status]
            out.print(
                f"{event.account_id} {event.event_id} {event.type} {event.object_id or '-'} "
                f"[{style}]{event.status.value}[/]",
                highlight=False,
            )
            if event.traceback:
                out.print(event.traceback, style="red", highlight=False, markup=False)
    if verbosity >= 1:
        out.print(backfill_table(result))
        if verbosity >= 2:
            print_summary(report, out)
    for event in result.events:
        if event.status is Status.FAILED:
            errors.print(f"[red]{event.event_id} ({event.type}) failed: {event.error}[/]")
    for event_id in result.unknown_ids():
        errors.print(
            f"[red]{event_id}: no account knows this event; Stripe serves events for "
            "30 days, so an older one cannot be processed[/]"
        )
    for key, message in report.key_errors.items():
        errors.print(f"[red]key {key}: {message}[/]")


_EVENT_STYLE = {
    Status.APPLIED: "green",
    Status.SUPERSEDED: "yellow",
    Status.UNMODELLED: "dim",
    Status.FAILED: "red",
}
