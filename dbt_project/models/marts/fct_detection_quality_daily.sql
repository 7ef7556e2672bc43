-- Detection quality per day against the labels known now: precision and recall of the alerts, and
-- Card Precision@k (the share of truly compromised cards among the k cards with the highest score
-- that day). The handbook's version also drops cards found on earlier days from later rankings; a
-- per-day mart cannot carry that, include/quality.py computes it for an evaluation window.
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

card_days as (
    select * from {{ ref('int_card_days_scored') }}
),

ranked as (
    select
        *,
        row_number() over (partition by event_date order by max_score desc, card_id asc) as card_rank
    from card_days
),

card_precision as (
    select
        event_date,
        cast(count_if(any_fraud) as double) / {{ var('top_k_cards') }} as card_precision_at_k
    from ranked
    where card_rank <= {{ var('top_k_cards') }}
    group by event_date
),

daily as (
    select
        event_date,
        count(*) as transactions,
        count_if(is_fraud) as frauds,
        count_if(is_alert) as alerts,
        count_if(is_alert and is_fraud) as true_positives
    from labelled
    group by event_date
),

final as (
    select
        daily.*,
        case when daily.alerts > 0 then cast(daily.true_positives as double) / daily.alerts end as precision,
        case when daily.frauds > 0 then cast(daily.true_positives as double) / daily.frauds end as recall,
        card_precision.card_precision_at_k
    from daily
    left join card_precision on daily.event_date = card_precision.event_date
)

select * from final
