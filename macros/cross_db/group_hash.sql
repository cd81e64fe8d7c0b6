{% macro group_hash(expression) %}
    {#-
        A 64-bit integer hash of `expression`, for grouping only: equal values, equal hashes;
        the values differ between engines (and may collide), so never store or compare them
        across engines.
    -#}
    {{ return(adapter.dispatch('group_hash')(expression)) }}
{% endmacro %}

{% macro default__group_hash(expression) %}
    {{ exceptions.raise_compiler_error("group_hash is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__group_hash(expression) %}
    hash({{ expression }})
{%- endmacro %}

{% macro spark__group_hash(expression) %}
    xxhash64({{ expression }})
{%- endmacro %}
