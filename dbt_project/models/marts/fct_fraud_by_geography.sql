-- Fraud by place: terminals' locations on a one-degree grid ("unknown" where the data has none).
with labelled as (
    select * from {{ ref('int_transactions_labelled') }}
),

located as (
    select
        *,
        case
            when lat is null then 'unknown'
            else format('%.0f,%.0f', floor(lat), floor(lon))
        end as grid_cell
    from labelled
),

final as (
    select
        grid_cell,
        min(floor(lat)) as cell_lat,
        min(floor(lon)) as cell_lon,
        count(*) as transactions,
        count_if(is_fraud) as confirmed_frauds,
        coalesce(sum(case when is_fraud then amount end), 0) as fraud_amount,
        cast(count_if(is_fraud) as double) / count(*) as fraud_rate
    from located
    group by grid_cell
)

select * from final
