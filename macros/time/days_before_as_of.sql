{% macro days_before_as_of(date_expression) %}
    {#- Whole days from a date to as_of_date, as an integer (0 on as_of_date itself). -#}
    cast(date_diff('day', {{ date_expression }}, {{ as_of_date_sql() }}) as integer)
{% endmacro %}

{% macro years_before_as_of(date_expression) %}
    {#- Completed years from a date to as_of_date (an age), as an integer. -#}
    cast(date_sub('year', {{ date_expression }}, {{ as_of_date_sql() }}) as integer)
{% endmacro %}
