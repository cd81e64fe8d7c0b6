{% test expression_is_true(model, expression, where=none, column_name=none) %}
    {#- Fails with every row for which `expression` is not true (nulls fail too); column_name is accepted so the test can sit on a column. -#}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
    {%- if where %} and ({{ where }}){% endif %}
{% endtest %}
