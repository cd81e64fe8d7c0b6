{% test unique_combination_of_columns(model, combination_of_columns, new_rows_in=none) %}
    {#- Fails with each combination of the given columns that occurs more than once.
        `new_rows_in` scopes it to the combinations carried by rows written since the test
        last passed, as for `unique` (macros/tests/unique.sql). -#}
    {%- set columns = combination_of_columns | join(', ') %}
    select
        {{ columns }},
        count(*) as occurrences
    {%- if new_rows_in is none %}
    from {{ model }}
    {%- else %}
    from (select * from {{ model }}) as tested
    where exists (
        select 1 from {{ new_rows_in }} as written
        where written.batch_run_started_at > {{ tested_since() }}
        {%- for column in combination_of_columns %}
            and written.{{ column }} is not distinct from tested.{{ column }}
        {%- endfor %}
    )
    {%- endif %}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
