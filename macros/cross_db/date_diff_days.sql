{% macro date_diff_days(start_date, end_date) %}
    {#- Whole days from start_date to end_date (dates), as an integer; null if either is null. -#}
    {{ return(adapter.dispatch('date_diff_days')(start_date, end_date)) }}
{% endmacro %}

{% macro default__date_diff_days(start_date, end_date) %}
    {#- dbt's cross-database datediff. -#}
    cast({{ dbt.datediff(start_date, end_date, 'day') }} as integer)
{%- endmacro %}

{% macro duckdb__date_diff_days(start_date, end_date) %}
    {#- DuckDB's date_diff counts day boundaries crossed. -#}
    cast(date_diff('day', {{ start_date }}, {{ end_date }}) as integer)
{%- endmacro %}

{% macro spark__date_diff_days(start_date, end_date) %}
    {#- Spark: datediff(end, start) (date minus date is an INTERVAL there, not a number). -#}
    cast(datediff({{ end_date }}, {{ start_date }}) as integer)
{%- endmacro %}


{% macro date_diff_years(start_date, end_date) %}
    {#- Completed years from start_date to end_date (an age), as an integer. -#}
    {{ return(adapter.dispatch('date_diff_years')(start_date, end_date)) }}
{% endmacro %}

{% macro default__date_diff_years(start_date, end_date) %}
    {#- Year difference, minus one when the anniversary has not come yet that year. -#}
    cast(
        extract(year from {{ end_date }}) - extract(year from {{ start_date }})
        - case
            when extract(month from {{ end_date }}) * 100 + extract(day from {{ end_date }})
                < extract(month from {{ start_date }}) * 100 + extract(day from {{ start_date }})
                then 1
            else 0
        end
        as integer
    )
{%- endmacro %}

{% macro duckdb__date_diff_years(start_date, end_date) %}
    {#- DuckDB's date_sub counts complete years. -#}
    cast(date_sub('year', {{ start_date }}, {{ end_date }}) as integer)
{%- endmacro %}

{% macro spark__date_diff_years(start_date, end_date) %}
    {#-
        Spark: months_between counts whole months when both days are the month's last (as
        DuckDB's date_sub does: 2000-02-29 to 2026-02-28 is 26 years), else adds a fraction.
    -#}
    cast(floor(months_between({{ end_date }}, {{ start_date }}) / 12) as integer)
{%- endmacro %}
