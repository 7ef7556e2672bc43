-- How well each fraud pattern is caught (patterns come with the confirmations). By the Fraud Detection
-- Handbook's protocol, frauds on cards already known compromised (a fraud confirmed before that day) are
-- left out; over all frauds beside it (`_all_cards`).
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        fraud_pattern,
        count_if(not card_known_compromised) as frauds,
        count_if(is_alert and not card_known_compromised) as detected,
        cast(count_if(is_alert and not card_known_compromised) as double)
        / nullif(count_if(not card_known_compromised), 0) as recall,
        count(*) as frauds_all_cards,
        count_if(is_alert) as detected_all_cards,
        cast(count_if(is_alert) as double) / count(*) as recall_all_cards,
        avg(score) as avg_score,
        avg(label_delay_hours) as avg_label_delay_hours
    from labelled
    where is_fraud
    group by fraud_pattern
)

select * from final
