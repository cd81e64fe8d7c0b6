{% macro generate_schema_name(custom_schema_name, node) %}
    {#-
        Use the layer's schema name as is (staging, intermediate, marts, reference, audit)
        instead of dbt's default '<target schema>_<custom>': BI tools and docs name `marts.x`.
    -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{% endmacro %}
