{% test not_null_columns(model, columns) %}
    {#- One test for a model's required columns: fails with one row per listed column that
        holds nulls (column_name, null_rows). One scan and one dbt node where a not_null test
        per column made one of each per column (the lean test graph, DECISIONLOG). -#}
    with null_counts as (
        select
        {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ model }}
    ),

    per_column as (
        {%- for column in columns %}
        select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows
        from null_counts
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    )

    select * from per_column
    where null_rows > 0
{% endtest %}
