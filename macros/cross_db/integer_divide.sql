{% macro integer_divide(dividend, divisor) %}
    {#- Integer division of two integer expressions, rounding toward zero for non-negative operands. -#}
    {{ return(adapter.dispatch('integer_divide')(dividend, divisor)) }}
{% endmacro %}

{% macro default__integer_divide(dividend, divisor) %}
    {#- Standard SQL: integer / integer is integer division (Postgres, Snowflake differ: cast). -#}
    cast(floor(({{ dividend }}) / ({{ divisor }})) as bigint)
{%- endmacro %}

{% macro duckdb__integer_divide(dividend, divisor) %}
    {#- DuckDB: `/` is float division, `//` integer division. -#}
    ({{ dividend }}) // {{ divisor }}
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) %}
    {#- Spark: the `div` operator (a bigint). -#}
    ({{ dividend }}) div {{ divisor }}
{%- endmacro %}
