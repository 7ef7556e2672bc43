{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_date',
) }}
-- Daily KPIs. Incremental: each run rebuilds only the days that changed since the stored rows were built
-- and merges them over those rows, so a rerun never adds a row twice. A day changes when a transaction
-- of that day is scored, or one of its frauds confirmed, after the stored rows were built. Backfills and
-- replays write into any past day, so "after" is judged by arrival (scored_at, label_ingested_at), not
-- by event date; the margin covers rows scored just before a checkpoint that committed after a later one.
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

{% if is_incremental() %}
built as (
    select
        coalesce(max(last_scored_at), timestamp '1970-01-01 00:00:00 UTC')
        - interval '{{ var("arrival_margin_minutes") }}' minute as scored_after,
        coalesce(max(last_label_ingested_at), timestamp '1970-01-01 00:00:00 UTC')
        - interval '{{ var("arrival_margin_minutes") }}' minute as labelled_after
    from {{ this }}
),

changed_days as (
    select distinct labelled.event_date
    from labelled
    cross join built
    where
        labelled.scored_at > built.scored_after
        or labelled.label_ingested_at > built.labelled_after
),

to_build as (
    select * from labelled
    where event_date in (select changed_days.event_date from changed_days)
),
{% else %}
to_build as (
    select * from labelled
),
{% endif %}

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
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate,
        max(scored_at) as last_scored_at,
        max(label_ingested_at) as last_label_ingested_at
    from to_build
    group by event_date
)

select * from final
