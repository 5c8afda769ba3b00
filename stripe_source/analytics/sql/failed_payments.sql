-- failed_payments: every declined charge attempt, and every payment intent whose last attempt
-- failed without a charge row to show it, with the decline code and whether the payment was
-- recovered: its payment intent went on to succeed. A payment that was retried under a new
-- payment intent (say, an invoice paid later with another card) is not seen as recovered.
select
    c._account_id as account_id,
    'charge' as kind,
    c.id,
    c.payment_intent,
    c.customer,
    c.currency,
    c.amount,
    c.created,
    c.failure_code,
    coalesce(c.outcome__reason, pi.last_payment_error__decline_code) as decline_code,
    c.failure_message,
    coalesce(pi.status = 'succeeded', false) as recovered
from {charges} as c
left join {payment_intents} as pi on pi._account_id = c._account_id and pi.id = c.payment_intent
where c.status = 'failed'
union all
select
    pi._account_id as account_id,
    'payment_intent' as kind,
    pi.id,
    pi.id as payment_intent,
    pi.customer,
    pi.currency,
    pi.amount,
    pi.created,
    pi.last_payment_error__code as failure_code,
    pi.last_payment_error__decline_code as decline_code,
    pi.last_payment_error__message as failure_message,
    pi.status = 'succeeded' as recovered
from {payment_intents} as pi
where pi.last_payment_error__code is not null
    and not exists (
        select 1
        from {charges} as c
        where c._account_id = pi._account_id and c.payment_intent = pi.id and c.status = 'failed'
    )
