{% macro arg_min_by(value, keys) %}
    {#-
        The `value` of the row with the smallest `keys`, compared in order (a list of
        (name, expression) pairs: the first key, ties by the next, ...), or with the smallest
        `keys` when it is one expression (a string: rows whose key is null are ignored). An
        aggregate; a FILTER clause may follow it.
    -#}
    {{ return(adapter.dispatch('arg_min_by')(value, keys)) }}
{% endmacro %}

{% macro default__arg_min_by(value, keys) %}
    {#- No portable arg-min aggregate: adapters without one need their own implementation. -#}
    {{ exceptions.raise_compiler_error("arg_min_by is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__arg_min_by(value, keys) %}
    {#- DuckDB: arg_min over a struct, which compares field by field; one key (a string) as is. -#}
    {%- if keys is string -%}
        {{ return('arg_min(' ~ value ~ ', ' ~ keys ~ ')') }}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for name, expression in keys -%}
        {%- do fields.append(name ~ ' := ' ~ expression) -%}
    {%- endfor -%}
    arg_min({{ value }}, struct_pack({{ fields | join(', ') }}))
{%- endmacro %}

{% macro spark__arg_min_by(value, keys) %}
    {#- Spark: min_by over a named_struct, which also orders field by field; one key as is. -#}
    {%- if keys is string -%}
        {{ return('min_by(' ~ value ~ ', ' ~ keys ~ ')') }}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for name, expression in keys -%}
        {%- do fields.append("'" ~ name ~ "', " ~ expression) -%}
    {%- endfor -%}
    min_by({{ value }}, named_struct({{ fields | join(', ') }}))
{%- endmacro %}


{% macro arg_max_by(value, key) %}
    {#-
        The `value` of the row with the largest `key` (one expression; rows whose key is null
        are ignored). An aggregate; a FILTER clause may follow it.
    -#}
    {{ return(adapter.dispatch('arg_max_by')(value, key)) }}
{% endmacro %}

{% macro default__arg_max_by(value, key) %}
    {{ exceptions.raise_compiler_error("arg_max_by is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__arg_max_by(value, key) %}
    arg_max({{ value }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_max_by(value, key) %}
    max_by({{ value }}, {{ key }})
{%- endmacro %}
