{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_date',
) }}
-- Daily KPIs. Incremental: each run rebuilds the days whose labels may still change (the last
-- label_delay_days) and merges them over the stored rows, so a rerun never adds a row twice.
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
    {% if is_incremental() %}
    where event_date >= (
        select coalesce(max(event_date), date '1970-01-01') - interval '{{ var("label_delay_days") }}' day
        from {{ this }}
    )
    {% endif %}
),

final as (
    select
        event_date,
        count(*) as transactions,
        sum(amount) as amount,
        count_if(is_alert) as alerts,
        count_if(is_fraud) as confirmed_frauds,
        count_if(is_alert and is_fraud) as detected_frauds,
        coalesce(sum(case when is_fraud then amount end), 0) as fraud_amount,
        coalesce(sum(case when is_alert then amount end), 0) as amount_at_risk,
        cast(count_if(is_alert) as double) / count(*) as alert_rate,
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate
    from labelled
    group by event_date
)

select * from final
