with source as (
    select * from {{ source_as_of('fraud', 'scored_transactions') }}
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
    from source
)

select * from final
