-- mrr_customer_monthly: each customer's MRR per account, currency and month, and its movement.
--
-- A month's MRR is taken at the month's end (for the current month: at the newest `_updated_at`
-- among subscriptions and invoices, the time the data was last seen on Stripe's clock). A line
-- counts when its period covers that moment and its subscription had not ended by then, and was
-- not left incomplete. Trial lines are for 0 and so add nothing; a canceled subscription stops
-- counting at `ended_at`.
--
-- movement: `new` (first MRR ever in this currency), `reactivated` (MRR again after months at
-- 0), `expansion`, `contraction`, `churned` (from some MRR to none), or `none`. The change is
-- `mrr - previous_mrr`; contraction and churn are negative.
with recursive
lines as (
    select m.*, s.ended_at
    from {mrr_invoice_lines} as m
    join {subscriptions} as s on s._account_id = m.account_id and s.id = m.subscription
    where s.status not in ('incomplete', 'incomplete_expired')
),
seen as (
    select _account_id as account_id, max(_updated_at) as as_of
    from (
        select _account_id, _updated_at from {subscriptions} as subscriptions
        union all
        select _account_id, _updated_at from {invoices} as invoices
    ) as t
    group by _account_id
),
bounds as (
    select l.account_id, min(date_trunc('month', l.period_start)) as first_month, max(s.as_of) as as_of
    from lines as l
    join seen as s on s.account_id = l.account_id
    group by l.account_id
),
months (account_id, month, as_of) as (
    select account_id, first_month, as_of from bounds
    union all
    select account_id, month + interval '1 month', as_of
    from months
    where month + interval '1 month' <= as_of
),
snapshots as (
    select account_id, month, least(month + interval '1 month', as_of) as taken_at
    from months
),
billed as (
    select n.account_id, l.currency, l.customer, n.month, sum(l.mrr) as mrr
    from snapshots as n
    join lines as l
        on l.account_id = n.account_id
        and l.period_start < n.taken_at
        and l.period_end >= n.taken_at
        and (l.ended_at is null or l.ended_at >= n.taken_at)
    group by n.account_id, l.currency, l.customer, n.month
),
customers as (
    select account_id, currency, customer, min(month) as first_month
    from billed
    group by account_id, currency, customer
),
grid as (
    select c.account_id, c.currency, c.customer, m.month, coalesce(b.mrr, 0) as mrr
    from customers as c
    join months as m on m.account_id = c.account_id and m.month >= c.first_month
    left join billed as b
        on b.account_id = c.account_id
        and b.currency = c.currency
        and b.customer = c.customer
        and b.month = m.month
),
compared as (
    select
        account_id,
        currency,
        customer,
        month,
        mrr,
        coalesce(lag(mrr) over customer_months, 0) as previous_mrr,
        coalesce(
            max(case when mrr > 0 then 1 else 0 end) over (
                customer_months rows between unbounded preceding and 1 preceding
            ),
            0
        ) as was_active
    from grid
    window customer_months as (partition by account_id, currency, customer order by month)
)
select
    account_id,
    currency,
    customer,
    cast(month as date) as month,
    mrr,
    previous_mrr,
    mrr - previous_mrr as mrr_change,
    case
        when previous_mrr = 0 and mrr > 0 and was_active = 0 then 'new'
        when previous_mrr = 0 and mrr > 0 then 'reactivated'
        when previous_mrr > 0 and mrr = 0 then 'churned'
        when mrr > previous_mrr then 'expansion'
        when mrr < previous_mrr then 'contraction'
        else 'none'
    end as movement
from compared
