-- One row per card and day: what the card did that day and how risky it looked (for Card Precision@k).
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

final as (
    select
        event_date,
        card_id,
        count(*) as transactions,
        max(score) as max_score,
        bool_or(is_alert) as any_alert,
        bool_or(is_fraud) as any_fraud,
        -- the same for every transaction of a card's day (known before the day began)
        bool_or(card_known_compromised) as known_compromised
    from labelled
    group by event_date, card_id
)

select * from final
