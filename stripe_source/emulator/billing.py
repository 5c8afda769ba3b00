"""Renewals: what Stripe's billing does on its own when a subscription's period ends.

Stripe bills a subscription at the end of each period without any request: the items move to
the next period (`customer.subscription.updated`), a `subscription_cycle` invoice for the new
period is created, finalized and charged (`invoice.created`, `invoice.finalized`, then the
payment's events and `invoice.paid`). A subscription set to cancel at the period's end is
canceled instead (`customer.subscription.deleted`). `advance_clock` moves the emulator's clock
and bills every period that ends on the way, one at a time and at the moment it ends, so the
objects and events carry the times Stripe would give them.

What is left out: prorations (the emulator creates none, so a change of quantity or price is
billed from the next renewal), usage-based and tiered prices, taxes, retries of failed payments
(cards never fail), and the first invoice after a trial is billed like any other renewal.
"""

from __future__ import annotations

from stripe_source.emulator.factories import DAY, Ids, build_invoice, build_invoice_line_item
from stripe_source.emulator.store import Account, Obj, Store
from stripe_source.emulator.writes import (
    SUBSCRIPTION,
    SUBSCRIPTION_ITEM,
    Discount,
    ItemChanges,
    WriteContext,
    _children,
    _collect,
    _default_payment_method,
    _finalize,
    _invoiced_customer,
    _line_description,
    _period_end,
    _save_items,
    _store_invoice,
    _transition,
    _with_discounts,
    _with_totals,
    save_update,
)

# Stripe renews these; incomplete, unpaid, paused and canceled subscriptions wait.
RENEWED_STATUSES = ("active", "trialing", "past_due")


def advance_clock(store: Store, seconds: int) -> int:
    """Move the clock forward by `seconds`, billing each period that ends on the way in time
    order; returns the new time."""
    target = store.clock.now() + seconds
    while (due := _next_due(store, target)) is not None:
        at, account, subscription_id = due
        store.clock.advance(max(at - store.clock.now(), 0))
        renew(store, account, subscription_id)
    return store.clock.advance(max(target - store.clock.now(), 0))


def _next_due(store: Store, until: int) -> tuple[int, Account, str] | None:
    """The subscription whose current period ends first, if that is no later than `until`."""
    found: tuple[int, Account, str] | None = None
    for account in store.accounts.values():
        for obj_id, model_name in account.model_of.items():
            if model_name != SUBSCRIPTION.name:
                continue
            subscription = account.objects[obj_id]
            if subscription["status"] not in RENEWED_STATUSES:
                continue
            end = _period_end_of(store, account, subscription)
            if end is not None and end <= until and (found is None or end < found[0]):
                found = (end, account, obj_id)
    return found


def _period_end_of(store: Store, account: Account, subscription: Obj) -> int | None:
    """The end of the subscription's current period (None: no item says, as in hand-built
    stores, and it is not renewed)."""
    for item_id in store.children_ids(account, subscription["id"], SUBSCRIPTION_ITEM):
        return account.objects[item_id].get("current_period_end")
    return None


def renew(store: Store, account: Account, subscription_id: str) -> Obj:
    """Bill the next period of a subscription whose current period has ended (now), or cancel
    it when it was set to cancel at the period's end."""
    ctx = WriteContext(store, account, {}, {}, request_id=None)
    subscription = account.objects[subscription_id]
    if subscription["cancel_at_period_end"]:
        return _transition(
            ctx,
            subscription,
            "customer.subscription.deleted",
            status="canceled",
            ended_at=ctx.now,
            cancel_at=None,
        )

    ids = ctx.ids()
    customer = account.objects[subscription["customer"]]
    items = _children(ctx, subscription_id, SUBSCRIPTION_ITEM)
    start = items[0]["current_period_end"]
    end = _period_end(start, items[0]["price"])
    renewed = [{**item, "current_period_start": start, "current_period_end": end} for item in items]

    invoice, lines = _renewal_invoice(ctx, ids, customer, subscription, renewed)
    fields: Obj = {"latest_invoice": invoice["id"]}
    if subscription["status"] == "trialing":
        fields["status"] = "active"
    _save_items(ctx, subscription, ItemChanges(updated=renewed), fields)

    invoice = _finalize(ctx, ids, _store_invoice(ctx, invoice, lines))
    if invoice["status"] == "open" and subscription["collection_method"] == "charge_automatically":
        payment_method = _default_payment_method(
            ctx, customer, subscription["default_payment_method"]
        )
        if payment_method is None:
            # nothing to charge: Stripe leaves the invoice open and the subscription past due
            current = account.objects[subscription_id]
            save_update(
                ctx, current, {**current, "status": "past_due"}, "customer.subscription.updated"
            )
        else:
            _collect(ctx, ids, invoice, payment_method)
    return account.objects[subscription_id]


def _renewal_invoice(
    ctx: WriteContext, ids: Ids, customer: Obj, subscription: Obj, items: list[Obj]
) -> tuple[Obj, list[Obj]]:
    """The `subscription_cycle` invoice: one line per item for the new period, discounted by
    the subscription's discounts still in force."""
    start, end = items[0]["current_period_start"], items[0]["current_period_end"]
    due_date = None
    if subscription["days_until_due"] is not None:
        due_date = ctx.now + subscription["days_until_due"] * DAY
    invoice = build_invoice(
        ids,
        customer=_invoiced_customer(customer),
        created=ctx.now,
        subtotal=0,
        period_start=start,
        period_end=end,
        billing_reason="subscription_cycle",
        subscription=subscription["id"],
        collection_method=subscription["collection_method"],
        due_date=due_date,
        currency=subscription["currency"],
    )
    lines = [
        build_invoice_line_item(
            ids,
            invoice=invoice["id"],
            price=item["price"],
            quantity=item["quantity"],
            period_start=start,
            period_end=end,
            description=_line_description(ctx, item, trial=False),
            subscription=subscription["id"],
            subscription_item=item["id"],
        )
        for item in items
    ]
    discounts = _discounts_in_force(ctx.account, subscription, start)
    lines = _with_discounts(lines, discounts)
    invoice = {**invoice, "discounts": [discount.id for discount in discounts]}
    return _with_totals(invoice, lines), lines


def _discounts_in_force(account: Account, subscription: Obj, at: int) -> list[Discount]:
    """The subscription's discounts whose coupon still applies to a period starting `at`."""
    found = []
    for discount_id in subscription.get("discounts") or ():
        discount = account.discounts.get(discount_id)
        if discount is None or (discount["end"] is not None and discount["end"] <= at):
            continue
        found.append(Discount(discount_id, discount["coupon"], None))
    return found
