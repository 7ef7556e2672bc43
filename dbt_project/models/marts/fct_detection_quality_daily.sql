-- Detection quality per day against the labels known now: precision and recall of the alerts, and
-- Card Precision@k (the share of truly compromised cards among the k cards with the highest score
-- that day). By the Fraud Detection Handbook's protocol: each day leaves out the cards already known
-- compromised (a fraud on them confirmed before the day began); the same figures over all cards stand
-- beside them (`_all_cards`). The handbook's Card Precision@k also drops cards the ranking found on
-- earlier days of its evaluation window; a per-day mart cannot carry that, include/quality.py computes it.
-- k is the analysts' budget (cards a day they can check); the cards the job actually alerted on, and how
-- many of them were compromised, show whether a capacity threshold kept to that budget and what it found.
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

card_days as (
    select * from {{ ref('int_card_days_scored') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_date, known_compromised order by max_score desc, card_id asc
        ) as card_rank_unknown_cards,
        row_number() over (partition by event_date order by max_score desc, card_id asc) as card_rank_all_cards
    from card_days
),

card_precision as (
    select
        event_date,
        cast(
            count_if(any_fraud and not known_compromised and card_rank_unknown_cards <= {{ var('top_k_cards') }})
            as double
        ) / {{ var('top_k_cards') }} as card_precision_at_k,
        cast(count_if(any_fraud and card_rank_all_cards <= {{ var('top_k_cards') }}) as double)
        / {{ var('top_k_cards') }} as card_precision_at_k_all_cards,
        count_if(any_alert and not known_compromised) as alerted_cards,
        count_if(any_alert and any_fraud and not known_compromised) as alerted_compromised_cards
    from ranked
    group by event_date
),

daily as (
    select
        event_date,
        count_if(not card_known_compromised) as transactions,
        count_if(is_fraud and not card_known_compromised) as frauds,
        count_if(is_alert and not card_known_compromised) as alerts,
        count_if(is_alert and is_fraud and not card_known_compromised) as true_positives,
        count_if(card_known_compromised) as known_compromised_transactions,
        count(*) as transactions_all_cards,
        count_if(is_fraud) as frauds_all_cards,
        count_if(is_alert) as alerts_all_cards,
        count_if(is_alert and is_fraud) as true_positives_all_cards
    from labelled
    group by event_date
),

final as (
    select
        daily.*,
        case when daily.alerts > 0 then cast(daily.true_positives as double) / daily.alerts end as precision,
        case when daily.frauds > 0 then cast(daily.true_positives as double) / daily.frauds end as recall,
        card_precision.card_precision_at_k,
        card_precision.alerted_cards,
        card_precision.alerted_compromised_cards,
        case
            when card_precision.alerted_cards > 0
                then cast(card_precision.alerted_compromised_cards as double) / card_precision.alerted_cards
        end as alerted_card_precision,
        card_precision.alerted_cards <= {{ var('top_k_cards') }} as within_analyst_budget,
        case
            when daily.alerts_all_cards > 0
                then cast(daily.true_positives_all_cards as double) / daily.alerts_all_cards
        end as precision_all_cards,
        case
            when daily.frauds_all_cards > 0
                then cast(daily.true_positives_all_cards as double) / daily.frauds_all_cards
        end as recall_all_cards,
        card_precision.card_precision_at_k_all_cards
    from daily
    left join card_precision on daily.event_date = card_precision.event_date
)

select * from final
