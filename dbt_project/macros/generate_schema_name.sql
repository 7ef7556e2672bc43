{#- Schemas are <target schema>_<layer> (fraud_staging, fraud_intermediate, fraud_marts): the layer is
    visible in Trino, and a second target (DBT_SCHEMA=ci) builds beside the first, never over it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
