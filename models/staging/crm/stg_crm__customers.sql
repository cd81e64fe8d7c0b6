-- Current CRM customer records as of as_of_date: one row per customer_id (the latest version
-- written on or before as_of_date), normalised. Identity resolution starts here.

with

customers as (

    select * from {{ ref('base_crm__customers') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from customers

)

select * from final
