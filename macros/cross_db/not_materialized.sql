{% macro not_materialized() %}
    {#- The CTE modifier after `<name> as`: keeps a CTE referenced twice inlined where the engine can be told so. -#}
    {{ return(adapter.dispatch('not_materialized')()) }}
{% endmacro %}

{% macro default__not_materialized() %}
    {#- Standard SQL has no such hint: the planner decides. -#}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__not_materialized() %}
    {#- DuckDB otherwise copies a CTE referenced more than once before the query runs. -#}
    {{ return('not materialized') }}
{% endmacro %}

{% macro spark__not_materialized() %}
    {#- Spark inlines CTEs (no materialisation hint in its grammar). -#}
    {{ return('') }}
{% endmacro %}


{% macro cte_materialized() %}
    {#- The CTE modifier after `<name> as`: computes a CTE once where the engine can be told so. -#}
    {{ return(adapter.dispatch('cte_materialized')()) }}
{% endmacro %}

{% macro default__cte_materialized() %}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__cte_materialized() %}
    {#- DuckDB: computed once, then read by every reference. -#}
    {{ return('materialized') }}
{% endmacro %}

{% macro spark__cte_materialized() %}
    {#- Spark has no CTE hint (its optimizer may reuse an exchange it computed once). -#}
    {{ return('') }}
{% endmacro %}
