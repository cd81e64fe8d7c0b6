{% macro epoch_seconds(timestamp) %}
    {#- Seconds since 1970-01-01 00:00:00 UTC of a timestamp, as a DOUBLE (fractions kept). -#}
    {{ return(adapter.dispatch('epoch_seconds')(timestamp)) }}
{% endmacro %}

{% macro default__epoch_seconds(timestamp) %}
    {{ exceptions.raise_compiler_error("epoch_seconds is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__epoch_seconds(timestamp) %}
    epoch({{ timestamp }})
{%- endmacro %}

{% macro spark__epoch_seconds(timestamp) %}
    (cast(unix_micros({{ timestamp }}) as double) / 1000000)
{%- endmacro %}
