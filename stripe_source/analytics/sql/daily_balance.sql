-- daily_balance: the Stripe balance per account, currency and day (UTC), from balance
-- transactions, by their `reporting_category`.
--
-- gross_sales: charges and payments; refunds, disputes (with their reversals): negative amounts;
-- fees: Stripe's fees on everything that day, as a negative number; other: the rest (Connect
-- transfers and fees, top-ups, Issuing, adjustments); payouts: money sent to the bank
-- (negative), with failed payouts returned. net_revenue = gross_sales + refunds + disputes +
-- fees; net = the day's change of balance (net_revenue + other + payouts); running_balance adds
-- up `net` from the first day synced, so it starts at 0 rather than at the balance Stripe held
-- before that day. Pending and available funds are not told apart.
with days as (
    select
        _account_id as account_id,
        currency,
        cast(created as date) as day,
        sum(case when reporting_category = 'charge' then amount else 0 end) as gross_sales,
        sum(case when reporting_category = 'refund' then amount else 0 end) as refunds,
        sum(
            case when reporting_category in ('dispute', 'dispute_reversal') then amount else 0 end
        ) as disputes,
        -sum(fee) as fees,
        sum(
            case when reporting_category in ('payout', 'payout_reversal') then amount else 0 end
        ) as payouts,
        sum(net) as net,
        count(*) as transactions
    from {balance_transactions} as balance_transactions
    group by _account_id, currency, cast(created as date)
)
select
    account_id,
    currency,
    day,
    gross_sales,
    refunds,
    disputes,
    fees,
    net - (gross_sales + refunds + disputes + fees) - payouts as other,
    payouts,
    gross_sales + refunds + disputes + fees as net_revenue,
    net,
    sum(net) over (partition by account_id, currency order by day) as running_balance,
    transactions
from days
