{% macro days_interval(days) %}
    {#- An interval of `days` whole days (an integer expression), to add to a timestamp. -#}
    {{ return(adapter.dispatch('days_interval')(days)) }}
{% endmacro %}

{% macro default__days_interval(days) %}
    {{ exceptions.raise_compiler_error("days_interval is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__days_interval(days) %}
    to_days({{ days }})
{%- endmacro %}

{% macro spark__days_interval(days) %}
    make_dt_interval({{ days }})
{%- endmacro %}
