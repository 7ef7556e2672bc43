{#- Every row's column_name equals the sum of the columns `parts`: a total split into categories loses and
    counts twice nothing. -#}
{% test adds_up(model, column_name, parts) %}
select {{ column_name }}, {{ parts | join(', ') }}
from {{ model }}
where {{ column_name }} <> {{ parts | join(' + ') }}
{% endtest %}
