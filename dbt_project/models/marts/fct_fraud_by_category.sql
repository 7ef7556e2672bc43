with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        merchant_category,
        count(*) as transactions,
        count_if(is_fraud) as confirmed_frauds,
        coalesce(sum(case when is_fraud then amount end), 0) as fraud_amount,
        count_if(is_alert) as alerts,
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate
    from labelled
    group by merchant_category
)

select * from final
