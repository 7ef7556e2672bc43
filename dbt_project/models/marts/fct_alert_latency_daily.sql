-- How long detection took: from the transaction's event time to the moment it was scored, for the
-- alerts of each day, against the alert latency budget. (For a replay of old data this is the replay's
-- delay, not the pipeline's.)
with alerts as (
    select * from {{ ref('stg_scored_transactions') }}
    where is_alert
),

final as (
    select
        event_date,
        count(*) as alerts,
        approx_percentile(detection_latency_ms, 0.50) as latency_p50_ms,
        approx_percentile(detection_latency_ms, 0.95) as latency_p95_ms,
        approx_percentile(detection_latency_ms, 0.99) as latency_p99_ms,
        count_if(detection_latency_ms < {{ var('alert_latency_budget_ms') }}) as within_budget,
        count_if(
            detection_latency_ms >= {{ var('alert_latency_budget_ms') }} and detection_latency_ms < 1000
        ) as from_budget_to_1s,
        count_if(detection_latency_ms >= 1000 and detection_latency_ms < 60000) as from_1s_to_1min,
        count_if(detection_latency_ms >= 60000) as over_1min
    from alerts
    group by event_date
)

select * from final
