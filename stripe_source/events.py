"""Reading Stripe's events: listed since a time, by `type` and delivery, or retrieved by id.

Stripe serves events for 30 days only: older ones are neither listed nor retrievable, so whatever
changed before that can only be found by listing the objects themselves again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import stripe

from stripe_source.accounts import StripeAccount
from stripe_source.catalog import EVENT_MODEL
from stripe_source.fetch import Failure, ModelLister, TaskGroup
from stripe_source.report import SyncReport

EVENT_RETENTION_SECONDS = 30 * 86_400

Obj = dict[str, Any]


def oldest_served(account: StripeAccount) -> float:
    """The oldest moment whose events Stripe still serves for this account."""
    return account.server_time - EVENT_RETENTION_SECONDS


def list_events(
    account: StripeAccount,
    report: SyncReport,
    *,
    since: int,
    type_pattern: str | None = None,
    failed_only: bool = False,
) -> list[list[Obj]]:
    """Event pages created since `since`, each newest first as Stripe lists them.

    `type_pattern` is Stripe's `type` filter (an exact type or one with `*`); `failed_only` asks
    for events whose webhook delivery has not succeeded (`delivery_success=false`). Like any big
    list, the events are split into `created` ranges paged in parallel.
    """
    params: dict[str, Any] = {}
    if type_pattern is not None:
        params["type"] = type_pattern
    if failed_only:
        params["delivery_success"] = "false"
    group = TaskGroup()
    ModelLister(
        account.api,
        account.pool,
        account.account_id,
        replace(EVENT_MODEL, list_params=params),
        group,
        created_since=since,
        lower_bound=since,
    ).start()

    pages: list[list[Obj]] = []
    for item in group.results():
        if isinstance(item, Failure):
            raise item.error
        pages.append(item.objects)
        report.add_page("Event", account.account_id, account.key.masked, len(item.objects))
    _finish(account, report)
    return pages


def retrieve_events(
    account: StripeAccount, report: SyncReport, ids: list[str]
) -> tuple[list[Obj], list[str]]:
    """The events among `ids` this account has, and the ids it does not know (or no longer
    serves: an event older than 30 days is a 404 like an unknown one)."""
    found, missing = [], []
    for event_id in ids:
        try:
            response = account.api.request(f"/v1/events/{event_id}", model="Event")
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise
            missing.append(event_id)
            continue
        found.append(response.data)
        report.add_page("Event", account.account_id, account.key.masked, 1)
    _finish(account, report)
    return found, missing


def _finish(account: StripeAccount, report: SyncReport) -> None:
    stats = account.api.stats
    report.finish(
        "Event",
        account.account_id,
        account.key.masked,
        stats.requests["Event"],
        stats.retries["Event"],
    )
