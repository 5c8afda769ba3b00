-- subscription_details: one row per subscription with its items, price and interval (of its
-- first item when it has several; all items of a subscription share the interval), list amount
-- per period before discounts, current MRR (the latest month's snapshot, see
-- mrr_customer_monthly), and what its invoices billed (total of open and paid invoices) and
-- collected to date.
with items as (
    select
        _account_id,
        subscription,
        count(*) as item_count,
        sum(quantity) as quantity,
        min(price__id) as price,
        min(price__recurring__interval) as "interval",
        min(price__recurring__interval_count) as interval_count,
        sum(price__unit_amount * quantity) as list_amount,
        min(current_period_start) as current_period_start,
        max(current_period_end) as current_period_end
    from {subscription_items} as subscription_items
    group by _account_id, subscription
),
billed as (
    select
        _account_id,
        parent__subscription_details__subscription as subscription,
        sum(case when status in ('open', 'paid') then total else 0 end) as billed_to_date,
        sum(amount_paid) as paid_to_date,
        count(*) as invoices
    from {invoices} as invoices
    where parent__subscription_details__subscription is not null
    group by _account_id, parent__subscription_details__subscription
),
latest as (
    select account_id, max(month) as month from {mrr_customer_monthly} as mrr_customer_monthly group by account_id
),
taken as (
    select
        s.account_id,
        least(cast(l.month as timestamp) + interval '1 month', s.as_of) as taken_at
    from latest as l
    join (
        select _account_id as account_id, max(_updated_at) as as_of
        from (
            select _account_id, _updated_at from {subscriptions} as subscriptions
            union all
            select _account_id, _updated_at from {invoices} as invoices
        ) as t
        group by _account_id
    ) as s on s.account_id = l.account_id
),
current_mrr as (
    select m.account_id, m.subscription, sum(m.mrr) as mrr
    from {mrr_invoice_lines} as m
    join taken as t on t.account_id = m.account_id
    join {subscriptions} as s on s._account_id = m.account_id and s.id = m.subscription
    where m.period_start < t.taken_at
        and m.period_end >= t.taken_at
        and (s.ended_at is null or s.ended_at >= t.taken_at)
        and s.status not in ('incomplete', 'incomplete_expired')
    group by m.account_id, m.subscription
)
select
    s._account_id as account_id,
    s.id as subscription,
    s.customer,
    s.status,
    s.currency,
    s.created,
    s.start_date,
    s.trial_end,
    s.cancel_at_period_end,
    s.canceled_at,
    s.ended_at,
    coalesce(i.item_count, 0) as item_count,
    i.quantity,
    i.price,
    i."interval",
    i.interval_count,
    i.list_amount,
    i.current_period_start,
    i.current_period_end,
    coalesce(m.mrr, 0) as current_mrr,
    coalesce(b.invoices, 0) as invoices,
    coalesce(b.billed_to_date, 0) as billed_to_date,
    coalesce(b.paid_to_date, 0) as paid_to_date
from {subscriptions} as s
left join items as i on i._account_id = s._account_id and i.subscription = s.id
left join billed as b on b._account_id = s._account_id and b.subscription = s.id
left join current_mrr as m on m.account_id = s._account_id and m.subscription = s.id
