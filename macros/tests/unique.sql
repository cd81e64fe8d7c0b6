{% test unique(model, column_name, new_rows_in=none) %}
    {#- dbt's `unique` (one row per repeated non-null value: unique_field, n_records), plus
        `new_rows_in`: a relation with this column and batch_run_started_at (the incremental
        base model the tested model reads). Given it, only values carried by rows written since
        this test last passed are checked, each against every row of the model: see
        tested_since() and DECISIONLOG "Grain tests of the incremental staging models scoped
        to new rows". -#}
    select
        {{ column_name }} as unique_field,
        count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null
    {%- if new_rows_in is not none %}
        and {{ column_name }} in (
            select {{ column_name }} from {{ new_rows_in }}
            where batch_run_started_at > {{ tested_since() }}
        )
    {%- endif %}
    group by {{ column_name }}
    having count(*) > 1
{% endtest %}
