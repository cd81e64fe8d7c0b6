{% macro avg_as_double(expression, condition=none) %}
    {#-
        The mean of a DECIMAL `expression` as a DOUBLE (exact sum, one division), over the rows
        where `condition` holds (all when none); null when there are none.
    -#}
    {{ return(adapter.dispatch('avg_as_double')(expression, condition)) }}
{% endmacro %}

{% macro default__avg_as_double(expression, condition) %}
    {#- Exact decimal sum divided as a double. -#}
    {%- set only = ' filter (where ' ~ condition ~ ')' if condition else '' -%}
    cast(sum({{ expression }}){{ only }} as double) / nullif(count({{ expression }}){{ only }}, 0)
{%- endmacro %}

{% macro duckdb__avg_as_double(expression, condition) %}
    {#- DuckDB's avg of a DECIMAL is already a DOUBLE. -#}
    avg({{ expression }}){{ ' filter (where ' ~ condition ~ ')' if condition else '' }}
{%- endmacro %}
