-- invoice_details: one row per invoice with its line count and money. discounts = subtotal -
-- total before tax; amount_due is what the customer owes after credit balance, amount_paid what
-- was collected, amount_remaining what is still owed. Deleted drafts are left out; drafts,
-- voided and uncollectible invoices are kept with their status.
with lines as (
    select _account_id, invoice, count(*) as line_count
    from {invoice_lines} as invoice_lines
    group by _account_id, invoice
)
select
    i._account_id as account_id,
    i.id as invoice,
    i.number,
    i.customer,
    i.parent__subscription_details__subscription as subscription,
    i.billing_reason,
    i.status,
    i.currency,
    i.created,
    i.due_date,
    i.status_transitions__paid_at as paid_at,
    i.period_start,
    i.period_end,
    coalesce(l.line_count, 0) as line_count,
    i.subtotal,
    i.subtotal - i.total_excluding_tax as discounts,
    i.total,
    i.amount_due,
    i.amount_paid,
    i.amount_remaining
from {invoices} as i
left join lines as l on l._account_id = i._account_id and l.invoice = i.id
