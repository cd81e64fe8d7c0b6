-- One golden record per customer (every customer_key with a CRM record or an order), with raw
-- PII: the source for dim_customers (which publishes only what a mart needs) and for
-- consent-gated activation. Survivorship, per attribute: the value from the most recently
-- written CRM record that has one; ties go to the more trusted source system (seed
-- source_system_priority), then the smaller customer_id. Customers known only from orders
-- (guest checkouts) take their email from the most recently seen email identifier.

with

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
record_keys as not materialized (

    select * from {{ ref('int_identity_record_keys') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

source_system_priority as (

    select * from {{ ref('source_system_priority') }}

),

customer_records as (

    select
        crm_customers.*,
        record_keys.customer_key,
        row_number() over (
            partition by record_keys.customer_key
            order by
                crm_customers.updated_at desc nulls last,
                coalesce(source_system_priority.priority, 999999),
                crm_customers.customer_id asc
        ) as record_rank
    from crm_customers
    inner join record_keys
        on
            record_keys.record_type = 'crm_customer'
            and crm_customers.customer_id = record_keys.record_id
    left join source_system_priority
        on crm_customers.source_system = source_system_priority.source_system
    where record_keys.customer_key is not null

),

survivors as (

    select
        customer_key,
        {{ most_trusted_value('first_name') }} as first_name,
        {{ most_trusted_value('last_name') }} as last_name,
        {{ most_trusted_value('case when is_email_valid then email end') }} as email,
        {{ most_trusted_value('phone') }} as phone,
        {{ most_trusted_value('gender') }} as gender,
        {{ most_trusted_value('birth_date') }} as birth_date,
        {{ most_trusted_value('street_address') }} as street_address,
        {{ most_trusted_value('postal_code') }} as postal_code,
        {{ most_trusted_value('city') }} as city,
        {{ most_trusted_value('region') }} as region,
        {{ most_trusted_value('country_code') }} as country_code,
        {{ most_trusted_value('loyalty_id') }} as loyalty_id,
        count(*) as crm_record_count,
        min(created_at) as first_created_at
    from customer_records
    group by customer_key

),

customer_keys as (

    select distinct
        customer_key,
        customer_sk
    from record_keys
    where
        record_type in ('crm_customer', 'order')
        and customer_key is not null

),

identifier_summary as (

    select
        customer_key,
        count(*) as identifier_count,
        max(case when match_method = 'probabilistic' then 1 else 0 end) = 1 as has_probabilistic_match,
        bool_or(was_cut_by_cap) as was_cut_by_cap,
        arg_max(identifier_value, last_seen_at) filter (where identifier_type = 'email') as latest_email,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from resolved_nodes
    group by customer_key

),

final as (

    select
        customer_keys.customer_key,
        customer_keys.customer_sk,
        survivors.first_name,
        survivors.last_name,
        survivors.phone,
        survivors.gender,
        survivors.birth_date,
        survivors.street_address,
        survivors.postal_code,
        survivors.city,
        survivors.region,
        survivors.country_code,
        survivors.loyalty_id,
        identifier_summary.identifier_count,
        identifier_summary.has_probabilistic_match,
        identifier_summary.was_cut_by_cap,
        identifier_summary.first_seen_at,
        identifier_summary.last_seen_at,
        coalesce(survivors.email, identifier_summary.latest_email) as email,
        coalesce(survivors.crm_record_count, 0) as crm_record_count
    from customer_keys
    inner join identifier_summary
        on customer_keys.customer_key = identifier_summary.customer_key
    left join survivors
        on customer_keys.customer_key = survivors.customer_key

)

select * from final
