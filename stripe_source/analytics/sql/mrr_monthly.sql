-- mrr_monthly: MRR per account, currency and month, with its movements (see
-- mrr_customer_monthly for what counts). Currencies are never added together. For every row,
-- mrr = previous month's mrr + new + expansion + contraction + churned + reactivated
-- (contraction and churned are negative).
select
    account_id,
    currency,
    month,
    sum(mrr) as mrr,
    sum(case when mrr > 0 then 1 else 0 end) as customers,
    sum(case when movement = 'new' then mrr_change else 0 end) as new_mrr,
    sum(case when movement = 'expansion' then mrr_change else 0 end) as expansion_mrr,
    sum(case when movement = 'contraction' then mrr_change else 0 end) as contraction_mrr,
    sum(case when movement = 'churned' then mrr_change else 0 end) as churned_mrr,
    sum(case when movement = 'reactivated' then mrr_change else 0 end) as reactivated_mrr,
    sum(case when movement = 'new' then 1 else 0 end) as new_customers,
    sum(case when movement = 'churned' then 1 else 0 end) as churned_customers,
    sum(case when movement = 'reactivated' then 1 else 0 end) as reactivated_customers
from {mrr_customer_monthly} as mrr_customer_monthly
group by account_id, currency, month
