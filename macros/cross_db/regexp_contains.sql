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


{% macro regexp_full_match(value, pattern) %}
    {#- Whether the whole of `value` matches `pattern`, a regular expression given as a Jinja
        string (rendered as the adapter's string literal); null if `value` is null. -#}
    {{ return(adapter.dispatch('regexp_full_match')(value, pattern)) }}
{% endmacro %}

{% macro default__regexp_full_match(value, pattern) %}
    {{ exceptions.raise_compiler_error("regexp_full_match is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__regexp_full_match(value, pattern) %}
    regexp_full_match({{ value }}, {{ string_literal(pattern) }})
{%- endmacro %}

{% macro spark__regexp_full_match(value, pattern) %}
    {#- rlike finds a match anywhere: anchored at both ends (\z: not before a final line break). -#}
    ({{ value }} rlike {{ string_literal('^(?:' ~ pattern ~ ')\\z') }})
{%- endmacro %}
