{#- Reconciliation: sum(column_name) over the model equals sum(source_column) over `compare_to`
    (a mart's totals are its source's totals: nothing dropped, nothing counted twice). -#}
{% test sums_match(model, column_name, compare_to, source_column) %}
with mart as (
    select coalesce(sum({{ column_name }}), 0) as total from {{ model }}
),

source as (
    select coalesce(sum({{ source_column }}), 0) as total from {{ compare_to }}
)

select mart.total as mart_total, source.total as source_total
from mart cross join source
where abs(mart.total - source.total) > 0.005
{% endtest %}
