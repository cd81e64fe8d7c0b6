{% macro arg_min_by(value, keys) %}
    {#-
        The `value` of the row with the smallest `keys`, compared in order (a list of
        (name, expression) pairs: the first key, ties by the next, ...). An aggregate; a
        FILTER clause may follow it.
    -#}
    {{ return(adapter.dispatch('arg_min_by')(value, keys)) }}
{% endmacro %}

{% macro default__arg_min_by(value, keys) %}
    {#- No portable arg-min aggregate: adapters without one need their own implementation. -#}
    {{ exceptions.raise_compiler_error("arg_min_by is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__arg_min_by(value, keys) %}
    {#- DuckDB: arg_min over a struct, which compares field by field. -#}
    {%- set fields = [] -%}
    {%- for name, expression in keys -%}
        {%- do fields.append(name ~ ' := ' ~ expression) -%}
    {%- endfor -%}
    arg_min({{ value }}, struct_pack({{ fields | join(', ') }}))
{%- endmacro %}

{% macro spark__arg_min_by(value, keys) %}
    {#- Spark: min_by over a named_struct, which also orders field by field. -#}
    {%- set fields = [] -%}
    {%- for name, expression in keys -%}
        {%- do fields.append("'" ~ name ~ "', " ~ expression) -%}
    {%- endfor -%}
    min_by({{ value }}, named_struct({{ fields | join(', ') }}))
{%- endmacro %}
