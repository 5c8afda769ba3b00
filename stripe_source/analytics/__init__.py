"""Money answers in SQL: views over the synced tables (MRR, churn, balance, customers, invoices,
subscriptions, failed payments), the latest month's headline numbers, and an HTML report."""

from stripe_source.analytics.views import VIEWS, create_views

__all__ = ["VIEWS", "create_views"]
