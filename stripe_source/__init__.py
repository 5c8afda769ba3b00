"""Copy Stripe accounts into DuckDB or PostgreSQL with dlt, and keep them current."""

from stripe_source.backfill import EventSelection, run_backfill
from stripe_source.from_code import sync_from_stripe_data
from stripe_source.runner import make_pipeline, run_sync
from stripe_source.source import stripe_source

__all__ = [
    "EventSelection",
    "make_pipeline",
    "run_backfill",
    "run_sync",
    "stripe_source",
    "sync_from_stripe_data",
]
