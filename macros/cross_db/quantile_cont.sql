{% macro quantile_cont(expression, quantile) %}
    {#- The continuous (linearly interpolated) quantile of `expression`, an exact aggregate. -#}
    {{ return(adapter.dispatch('quantile_cont')(expression, quantile)) }}
{% endmacro %}

{% macro default__quantile_cont(expression, quantile) %}
    {#- SQL standard ordered-set aggregate (Postgres, Snowflake, ...). -#}
    percentile_cont({{ quantile }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__quantile_cont(expression, quantile) %}
    {#- DuckDB's own spelling; median(x) = quantile_cont(x, 0.5). -#}
    quantile_cont({{ expression }}, {{ quantile }})
{%- endmacro %}

{% macro spark__quantile_cont(expression, quantile) %}
    {#- Spark's exact percentile interpolates linearly like quantile_cont (not percentile_approx). -#}
    percentile({{ expression }}, {{ quantile }})
{%- endmacro %}


{% macro quantile_disc(expression, quantile) %}
    {#- The discrete quantile of `expression`: its first value (ascending) whose cumulative share reaches `quantile`. -#}
    {{ return(adapter.dispatch('quantile_disc')(expression, quantile)) }}
{% endmacro %}

{% macro default__quantile_disc(expression, quantile) %}
    {#- SQL standard ordered-set aggregate (Postgres, Snowflake, Spark 3.3 and later, ...). -#}
    percentile_disc({{ quantile }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__quantile_disc(expression, quantile) %}
    quantile_disc({{ expression }}, {{ quantile }})
{%- endmacro %}
