-- mrr_invoice_lines: every subscription invoice line that counts toward MRR, with its value per
-- month.
--
-- Stripe keeps only the current state of a subscription, so MRR history is read from what was
-- billed: each line of a subscription invoice covers a period (`period.start` to `period.end`)
-- at the quantity, price and discounts of that period. Its amount after discounts is spread to
-- a month by the price's interval (a year is 12 months, a week 52/12 of a month, a day 365/12).
-- Tiered and per-unit prices need no special case: the line holds what the tiers came to.
--
-- Counts: lines of open and paid invoices, not prorations. Leaves out: draft, void and
-- uncollectible invoices; proration lines (a mid-period change shows from the next invoice, so
-- MRR moves at renewals, not at the moment of the change); one-off invoice items; metered
-- prices bill after the period and are counted for the period they were billed in.
with discounts as (
    select _dlt_parent_id, sum(amount) as amount
    from {line_discounts} as line_discounts
    group by _dlt_parent_id
)
select
    l._account_id as account_id,
    i.customer,
    l.subscription,
    l.invoice,
    l.id as line_id,
    l.currency,
    p.id as price,
    p.recurring__interval as "interval",
    p.recurring__interval_count as interval_count,
    l.quantity,
    l.amount - coalesce(d.amount, 0) as amount,
    l.period_start,
    l.period_end,
    cast(
        (l.amount - coalesce(d.amount, 0))
        * case p.recurring__interval
            when 'year' then 1.0 / 12
            when 'week' then 52.0 / 12
            when 'day' then 365.0 / 12
            else 1.0
        end
        / coalesce(nullif(p.recurring__interval_count, 0), 1)
        as decimal(18, 4)
    ) as mrr
from {invoice_lines} as l
join {invoices} as i on i._account_id = l._account_id and i.id = l.invoice
join {prices} as p on p._account_id = l._account_id and p.id = l.pricing__price_details__price
left join discounts as d on d._dlt_parent_id = l._dlt_id
where l.parent__type = 'subscription_item_details'
    and not coalesce(l.parent__subscription_item_details__proration, false)
    and i.status in ('open', 'paid')
    and p.recurring__interval is not null
