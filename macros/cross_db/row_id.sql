{% macro row_id() %}
    {#-
        A window-free unique BIGINT per row of the query's FROM (no order: any numbering will
        do, e.g. to join a narrow projection back to its rows).
    -#}
    {{ return(adapter.dispatch('row_id')()) }}
{% endmacro %}

{% macro default__row_id() %}
    row_number() over ()
{%- endmacro %}

{% macro spark__row_id() %}
    {#- Spark refuses an unordered row_number(). Unique, not consecutive; non-deterministic, so
        Spark computes a CTE holding it once even when it is referenced more than once. -#}
    monotonically_increasing_id()
{%- endmacro %}
