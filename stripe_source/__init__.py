"""Copy Stripe accounts into DuckDB or PostgreSQL with dlt, and keep them current."""

from stripe_source.runner import make_pipeline, run_sync
from stripe_source.source import stripe_source

__all__ = ["make_pipeline", "run_sync", "stripe_source"]
