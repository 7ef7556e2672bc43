with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        hour(event_time) as hour_of_day,
        count(*) as transactions,
        count_if(is_fraud) as confirmed_frauds,
        count_if(is_alert) as alerts,
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate
    from labelled
    group by hour(event_time)
)

select * from final
