-- Each card's profile and current risk tier: high if a fraud was confirmed or a score reached
-- var high_risk_score, medium if it was alerted, low otherwise.
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

profiles as (
    select
        card_id,
        count(*) as transactions,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        avg(amount) as avg_amount,
        max(amount) as max_amount,
        count(distinct terminal_id) as terminals,
        max(score) as max_score,
        count_if(is_alert) as alerts,
        count_if(is_fraud) as confirmed_frauds
    from labelled
    group by card_id
),

final as (
    select
        *,
        case
            when confirmed_frauds > 0 or max_score >= {{ var('high_risk_score') }} then 'high'
            when alerts > 0 then 'medium'
            else 'low'
        end as risk_tier
    from profiles
)

select * from final
