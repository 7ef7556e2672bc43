-- Every scored transaction with what is known about it now: confirmed fraud or not, and how.
with transactions as (
    select * from {{ ref('stg_scored_transactions') }}
),

feedback as (
    select * from {{ ref('stg_fraud_feedback') }}
),

final as (
    select
        transactions.*,
        feedback.tx_id is not null as is_fraud,
        feedback.fraud_pattern,
        feedback.confirmed_at,
        feedback.ingested_at as label_ingested_at,
        date_diff('hour', transactions.event_time, feedback.confirmed_at) as label_delay_hours
    from transactions
    left join feedback on transactions.tx_id = feedback.tx_id
)

select * from final
