{% macro try_expression(expression) %}
    {#- `expression`, with an error raised while evaluating it turned into null where the engine can. -#}
    {{ return(adapter.dispatch('try_expression')(expression)) }}
{% endmacro %}

{% macro default__try_expression(expression) %}
    {#- No generic way: the expression as is (an evaluation error stops the query). -#}
    ({{ expression }})
{%- endmacro %}

{% macro duckdb__try_expression(expression) %}
    {#- DuckDB's try(). -#}
    try({{ expression }})
{%- endmacro %}
