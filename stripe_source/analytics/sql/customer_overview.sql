-- customer_overview: one row per customer and currency they paid or subscribe in (customers with
-- neither get one row in their own currency, possibly null).
--
-- gross: succeeded charges; refunds: the refunded part of them; net = gross - refunds (Stripe's
-- fees and disputes are left out: they are in daily_balance); failed_charges: declined charge
-- attempts; first and last payment: the first and last succeeded charge. active_subscriptions
-- counts subscriptions active, trialing or past due, in any currency. current_mrr: the
-- customer's MRR in the latest month of mrr_customer_monthly. delinquent is Stripe's flag (an
-- invoice payment failed). Deleted customers are left out.
with payments as (
    select
        _account_id as account_id,
        customer,
        currency,
        sum(case when status = 'succeeded' then amount else 0 end) as gross,
        sum(case when status = 'succeeded' then amount_refunded else 0 end) as refunds,
        sum(case when status = 'failed' then 1 else 0 end) as failed_charges,
        min(case when status = 'succeeded' then created end) as first_payment_at,
        max(case when status = 'succeeded' then created end) as last_payment_at
    from {charges} as charges
    where customer is not null
    group by _account_id, customer, currency
),
latest as (
    select account_id, max(month) as month from {mrr_customer_monthly} as mrr_customer_monthly group by account_id
),
current_mrr as (
    select m.account_id, m.customer, m.currency, m.mrr
    from {mrr_customer_monthly} as m
    join latest as l on l.account_id = m.account_id and l.month = m.month
),
currencies as (
    select account_id, customer, currency from payments
    union
    select account_id, customer, currency from current_mrr
),
subscribed as (
    select _account_id as account_id, customer, count(*) as active_subscriptions
    from {subscriptions} as subscriptions
    where status in ('active', 'trialing', 'past_due')
    group by _account_id, customer
)
select
    c._account_id as account_id,
    c.id as customer,
    c.email,
    c.name,
    c.created,
    coalesce(k.currency, c.currency) as currency,
    coalesce(p.gross, 0) as gross,
    coalesce(p.refunds, 0) as refunds,
    coalesce(p.gross, 0) - coalesce(p.refunds, 0) as net,
    coalesce(p.failed_charges, 0) as failed_charges,
    p.first_payment_at,
    p.last_payment_at,
    coalesce(s.active_subscriptions, 0) as active_subscriptions,
    coalesce(m.mrr, 0) as current_mrr,
    coalesce(c.delinquent, false) as delinquent
from {customers} as c
left join currencies as k on k.account_id = c._account_id and k.customer = c.id
left join payments as p
    on p.account_id = c._account_id and p.customer = c.id and p.currency = k.currency
left join current_mrr as m
    on m.account_id = c._account_id and m.customer = c.id and m.currency = k.currency
left join subscribed as s on s.account_id = c._account_id and s.customer = c.id
