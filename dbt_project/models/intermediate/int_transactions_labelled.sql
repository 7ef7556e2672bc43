-- Every scored transaction with what is known about it now: confirmed fraud or not, and how; and whether
-- its card was already known compromised that day (a fraud on it confirmed before the day began). The
-- Fraud Detection Handbook's evaluation leaves such cards out of each day: they would be blocked by then,
-- and their later frauds are the easy ones (include/quality.py, the same rule).
with transactions as (
    select * from {{ ref('stg_scored_transactions') }}
),

feedback as (
    select * from {{ ref('stg_fraud_feedback') }}
),

card_first_confirmed as (
    select
        card_id,
        min(confirmed_at) as first_confirmed_at
    from feedback
    group by card_id
),

final as (
    select
        transactions.*,
        feedback.tx_id is not null as is_fraud,
        feedback.fraud_pattern,
        feedback.confirmed_at,
        feedback.ingested_at as label_ingested_at,
        date_diff('hour', transactions.event_time, feedback.confirmed_at) as label_delay_hours,
        coalesce(
            card_first_confirmed.first_confirmed_at < date_trunc('day', transactions.event_time), false
        ) as card_known_compromised
    from transactions
    left join feedback on transactions.tx_id = feedback.tx_id
    left join card_first_confirmed on transactions.card_id = card_first_confirmed.card_id
)

select * from final
