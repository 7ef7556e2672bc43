{#- A source table as it was at var('as_of'), a Trino timestamp with time zone such as
    '2026-11-29 12:00:00 UTC' (default: when this dbt invocation started, one value per invocation).
    The staging views embed it, so a model and the tests that reconcile it with its sources read the same
    Iceberg snapshot while the stream keeps committing; until they are rebuilt, the staging views show
    the data as of their last build. A table with no snapshot at that time held no rows then: it reads
    as empty (Trino rejects time travel before a table's first snapshot). -#}
{% macro source_as_of(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set as_of = var('as_of', run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ ' UTC') -%}
    {%- if execute -%}
        {%- set history -%}
            select count(*) from {{ relation.database }}.{{ relation.schema }}."{{ relation.identifier }}$history"
            where made_current_at <= timestamp '{{ as_of }}'
        {%- endset -%}
        {%- set had_snapshot = run_query(history).columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if execute and not had_snapshot -%}
        (select * from {{ relation }} where false)
    {%- else -%}
        {{ relation }} for timestamp as of timestamp '{{ as_of }}'
    {%- endif -%}
{%- endmacro %}
