-- How long detection took: from the transaction's event time to the moment it was scored, for each
-- day's live alerts, against the alert latency budget. Alerts scored more than
-- var('live_traffic_max_delay_ms') after their event time (replays, backfills) are counted apart: their
-- delay is the time since the data was recorded, not the pipeline's latency (a replay of a past week would
-- read as months).
with alerts as (
    select
        *,
        detection_latency_ms <= {{ var('live_traffic_max_delay_ms') }} as is_live
    from {{ ref('stg_scored_transactions') }}
    where is_alert
),

final as (
    select
        event_date,
        count(*) as alerts,
        count_if(is_live) as live_alerts,
        count_if(not is_live) as replayed_alerts,
        approx_percentile(case when is_live then detection_latency_ms end, 0.50) as latency_p50_ms,
        approx_percentile(case when is_live then detection_latency_ms end, 0.95) as latency_p95_ms,
        approx_percentile(case when is_live then detection_latency_ms end, 0.99) as latency_p99_ms,
        count_if(is_live and detection_latency_ms < {{ var('alert_latency_budget_ms') }}) as within_budget,
        count_if(
            is_live
            and detection_latency_ms >= {{ var('alert_latency_budget_ms') }}
            and detection_latency_ms < 1000
        ) as from_budget_to_1s,
        count_if(is_live and detection_latency_ms >= 1000 and detection_latency_ms < 60000) as from_1s_to_1min,
        count_if(is_live and detection_latency_ms >= 60000) as over_1min
    from alerts
    group by event_date
)

select * from final
