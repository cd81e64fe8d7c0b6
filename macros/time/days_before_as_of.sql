{% macro days_before_as_of(date_expression) %}
    {#- Whole days from a date to as_of_date, as an integer (0 on as_of_date itself). -#}
    {{ date_diff_days(date_expression, as_of_date_sql()) }}
{%- endmacro %}

{% macro years_before_as_of(date_expression) %}
    {#- Completed years from a date to as_of_date (an age), as an integer. -#}
    {{ date_diff_years(date_expression, as_of_date_sql()) }}
{%- endmacro %}
