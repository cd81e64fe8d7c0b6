-- Web and app events on or before as_of_date that passed every check, one row per event_id.

with

events as (

    select * from {{ ref('base_web__events') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from events

)

select * from final
