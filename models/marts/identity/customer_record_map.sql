-- Every staged CRM record and order with the customer it belongs to: how every per-customer
-- number downstream attributes a record. resolution_status 'unresolved' marks a record whose
-- identifiers all failed the guards (junk or shared): it is counted, not guessed. Records of
-- erased customers are absent.

with

record_keys as (

    select * from {{ ref('int_identity_record_keys') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

final as (

    select
        record_type,
        record_id,
        customer_key,
        resolution_status,
        match_method,
        cast(match_probability as double) as match_probability
    from record_keys
    where
        record_type in ('crm_customer', 'order')
        and (
            customer_key is null
            or customer_key not in (
                select erased_customer_keys.customer_key from erased_customer_keys
            )
        )

)

select * from final
