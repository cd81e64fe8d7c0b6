-- Current CRM customer records as of as_of_date: one row per customer_id (the latest version
-- written on or before as_of_date), normalised. Identity resolution starts here.

with

customers as (

    select * from {{ ref('base_crm__customers') }}
    where row_status = 'staged'

),

final as (

    select
        customer_id,
        email,
        is_email_valid,
        phone,
        first_name,
        last_name,
        gender,
        street_address,
        city,
        region,
        postal_code,
        country_code,
        loyalty_id,
        source_system,
        birth_date,
        created_at,
        updated_at
    from customers

)

select * from final
