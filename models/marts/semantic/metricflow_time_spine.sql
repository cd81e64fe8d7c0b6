-- One row per day: the time spine MetricFlow joins time-based metrics to. It spans the
-- orders and segment history the project holds, from a fixed start to a year after
-- as_of_date (var segments__earliest_plausible_date is the start: nothing earlier is staged).

{%- set as_of = as_of_date_sql() %}

with

days as (

    {{ day_series(
        "cast('" ~ var("segments__earliest_plausible_date") ~ "' as date)",
        as_of ~ " + interval 366 day",
        'date_day',
    ) }}

),

final as (

    select date_day from days

)

select * from final
