{% macro regexp_contains(value, pattern) %}
    {#- Whether `pattern` (a regular expression) matches somewhere in `value`; null if either is null. -#}
    {{ return(adapter.dispatch('regexp_contains')(value, pattern)) }}
{% endmacro %}

{% macro default__regexp_contains(value, pattern) %}
    {{ exceptions.raise_compiler_error("regexp_contains is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__regexp_contains(value, pattern) %}
    regexp_matches({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_contains(value, pattern) %}
    {#- Java regular expressions (DuckDB's are RE2: the project's patterns mean the same in both). -#}
    ({{ value }} rlike {{ pattern }})
{%- endmacro %}
