with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        terminal_id,
        arbitrary(merchant_category) as merchant_category,
        count(*) as transactions,
        count_if(is_fraud) as confirmed_frauds,
        coalesce(sum(case when is_fraud then amount end), 0) as fraud_amount,
        count_if(is_alert) as alerts,
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate,
        min(case when is_fraud then event_time end) as first_fraud_at,
        max(case when is_fraud then event_time end) as last_fraud_at
    from labelled
    group by terminal_id
)

select * from final
