-- The feedback topic may repeat a confirmation (a chargeback reported twice): the first one counts.
with source as (
    select * from {{ source_as_of('fraud', 'fraud_feedback') }}
),

ranked as (
    select
        *,
        row_number() over (partition by tx_id order by confirmed_at, kafka_partition, kafka_offset) as nth
    from source
),

final as (
    select
        tx_id,
        card_id,
        terminal_id,
        tx_event_time,
        confirmed_at,
        coalesce(fraud_pattern, 'unknown') as fraud_pattern,
        amount,
        ingested_at
    from ranked
    where nth = 1
)

select * from final
