-- One row: what this dbt invocation is building as of. The dbt Python models read their date
-- here instead of from a YAML config: a config is rendered when the project is parsed, and a
-- scheduled job that lets as_of_date default to the run date reuses the previous day's parse
-- (partial parsing), so a config would hand the Python models the date of the last full
-- parse. These values are rendered when the model runs, by the same macros as every SQL model.

with

context as (

    select
        {{ as_of_date_sql() }} as as_of_date,
        {{ visible_before_sql() }} as visible_before,
        cast({{ var('ml__retrain_every_days') }} as integer) as retrain_every_days,
        cast('{{ retrain_anchor_date(var("ml__retrain_every_days")) }}' as date)
            as retrain_anchor_date,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
            as run_started_at,
        '{{ invocation_id }}' as invocation_id

)

select * from context
