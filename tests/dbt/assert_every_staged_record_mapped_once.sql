-- Every staged CRM record and order appears in the identity graph's record keys exactly once
-- (customer_record_map then drops erased customers only). Rows returned = records lost or
-- duplicated by identity resolution.

with

staged_records as (

    select
        'crm_customer' as record_type,
        customer_id as record_id
    from {{ ref('stg_crm__customers') }}
    union all
    select
        'order' as record_type,
        order_id as record_id
    from {{ ref('stg_commerce__orders') }}

),

record_keys as (

    select
        record_type,
        record_id,
        count(*) as mapped
    from {{ ref('int_identity_record_keys') }}
    where record_type in ('crm_customer', 'order')
    group by record_type, record_id

)

select
    coalesce(staged_records.record_type, record_keys.record_type) as record_type,
    coalesce(staged_records.record_id, record_keys.record_id) as record_id,
    coalesce(record_keys.mapped, 0) as mapped
from staged_records
full outer join record_keys
    on
        staged_records.record_type = record_keys.record_type
        and staged_records.record_id = record_keys.record_id
where coalesce(record_keys.mapped, 0) <> 1 or staged_records.record_id is null
