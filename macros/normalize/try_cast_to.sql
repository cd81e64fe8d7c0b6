{% macro try_cast_to(expression, data_type) %}
    {#- Cast that yields null instead of failing (dbt's safe_cast falls back to a plain cast on DuckDB). -#}
    {{ return(adapter.dispatch('try_cast_to', 'segments')(expression, data_type)) }}
{% endmacro %}

{% macro default__try_cast_to(expression, data_type) %}
    try_cast({{ expression }} as {{ data_type }})
{% endmacro %}
