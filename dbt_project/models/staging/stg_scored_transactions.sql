-- Where tx_id uniqueness is enforced: the job rejects a repeated tx_id per card within the card's history
-- horizon (include/scoring/scorer.py), but the same tx_id on two cards, one repeated beyond the horizon
-- with a newer event time, or rows written again by a rollback to an old savepoint reach the table.
-- The first one scored counts.
with source as (
    select * from {{ source_as_of('fraud', 'scored_transactions') }}
),

ranked as (
    select
        *,
        row_number() over (partition by tx_id order by scored_at, kafka_partition, kafka_offset) as nth
    from source
),

final as (
    select
        -- ids
        tx_id,
        card_id,
        terminal_id,
        -- transaction
        coalesce(merchant_category, 'unknown') as merchant_category,
        coalesce(channel, 'unknown') as channel,
        amount,
        currency,
        event_time,
        cast(event_time as date) as event_date,
        lat,
        lon,
        -- scoring
        score,
        rule_score,
        decision,
        decision = 'ALERT' as is_alert,
        reasons,
        model_version,
        config_version,
        -- features used by the marts
        hour_of_day,
        card_tx_count_24h,
        amount_ratio_to_mean_30d,
        terminal_fraud_count_30d,
        -- lineage
        scored_at,
        date_diff('millisecond', event_time, scored_at) as detection_latency_ms,
        kafka_partition,
        kafka_offset
    from ranked
    where nth = 1
)

select * from final
