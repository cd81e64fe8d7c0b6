{% macro day_series(start_date, end_date, column_name) %}
    {#-
        A query (no trailing semicolon) with one row per day from start_date (included) to
        end_date (excluded), both date expressions, in a DATE column named column_name.
    -#}
    {{ return(adapter.dispatch('day_series')(start_date, end_date, column_name)) }}
{% endmacro %}

{% macro default__day_series(start_date, end_date, column_name) %}
    {{ exceptions.raise_compiler_error("day_series is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__day_series(start_date, end_date, column_name) %}
    select cast(spine.day_start as date) as {{ column_name }}
    from range(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval 1 day
    ) as spine (day_start)
{%- endmacro %}

{% macro spark__day_series(start_date, end_date, column_name) %}
    {#- sequence() includes its end: stop a day before. -#}
    select explode(sequence(
        cast({{ start_date }} as date),
        date_sub(cast({{ end_date }} as date), 1),
        interval 1 day
    )) as {{ column_name }}
{%- endmacro %}
