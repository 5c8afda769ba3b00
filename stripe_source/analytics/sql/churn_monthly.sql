-- churn_monthly: per account, currency and month, the customers and MRR at the month's start
-- (the previous month's end), what churned, and the rates. `net_mrr_churn_rate` nets
-- contraction and expansion against the starting MRR; it is negative when expansion outweighs
-- losses. Rates are null when nothing was there at the start. Reactivated and new customers do
-- not offset churn.
with monthly as (
    select
        account_id,
        currency,
        month,
        sum(case when previous_mrr > 0 then 1 else 0 end) as customers_at_start,
        sum(previous_mrr) as mrr_at_start,
        sum(case when movement = 'churned' then 1 else 0 end) as churned_customers,
        sum(case when movement = 'churned' then previous_mrr else 0 end) as churned_mrr,
        sum(case when movement = 'contraction' then -mrr_change else 0 end) as contraction_mrr,
        sum(case when movement = 'expansion' then mrr_change else 0 end) as expansion_mrr
    from {mrr_customer_monthly} as mrr_customer_monthly
    group by account_id, currency, month
)
select
    account_id,
    currency,
    month,
    customers_at_start,
    mrr_at_start,
    churned_customers,
    churned_mrr,
    cast(churned_customers as double precision) / nullif(customers_at_start, 0)
        as customer_churn_rate,
    cast(churned_mrr as double precision) / nullif(mrr_at_start, 0) as mrr_churn_rate,
    cast(churned_mrr + contraction_mrr - expansion_mrr as double precision)
        / nullif(mrr_at_start, 0) as net_mrr_churn_rate
from monthly
