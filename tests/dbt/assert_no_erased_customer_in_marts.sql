-- No erased customer appears in any public identity mart. Rows returned = leaks.

with

erased as (

    select customer_key from {{ ref('int_identity_erased_customer_keys') }}

),

published as (

    select
        'dim_customers' as mart,
        customer_key
    from {{ ref('dim_customers') }}
    union all
    select
        'customer_identity_map' as mart,
        customer_key
    from {{ ref('customer_identity_map') }}
    union all
    select
        'customer_record_map' as mart,
        customer_key
    from {{ ref('customer_record_map') }}

)

select
    published.mart,
    published.customer_key
from published
inner join erased
    on published.customer_key = erased.customer_key
