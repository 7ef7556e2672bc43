-- How well each fraud pattern is caught (patterns come with the confirmations).
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        fraud_pattern,
        count(*) as frauds,
        count_if(is_alert) as detected,
        cast(count_if(is_alert) as double) / count(*) as recall,
        avg(score) as avg_score,
        avg(label_delay_hours) as avg_label_delay_hours
    from labelled
    where is_fraud
    group by fraud_pattern
)

select * from final
