{% macro star_except(relation, columns) %}
    {#- Every column of `relation` (a name in the FROM clause) except `columns` (a list). -#}
    {{ return(adapter.dispatch('star_except')(relation, columns)) }}
{% endmacro %}

{% macro default__star_except(relation, columns) %}
    {{ exceptions.raise_compiler_error("star_except is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__star_except(relation, columns) %}
    {{ relation }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(relation, columns) %}
    {{ relation }}.* except ({{ columns | join(', ') }})
{%- endmacro %}
