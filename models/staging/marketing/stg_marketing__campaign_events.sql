-- Campaign events on or before as_of_date that passed every check. A missing variant means
-- treatment (the member was contacted).

with

campaign_events as (

    select * from {{ ref('base_marketing__campaign_events') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from campaign_events

)

select * from final
