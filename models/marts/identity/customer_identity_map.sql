-- Every identifier of every customer: the lookup from a customer_id, email, phone, loyalty
-- card or cookie to its customer_key. Customers are the people with a CRM record or an order;
-- identifiers of anyone else (cookies of visitors who never bought, campaign or consent
-- addresses with no CRM record yet) are left out. Every identifier appears as its keyed
-- pseudonym (identifier_hmac: HMAC-SHA-256 of the normalised value under the secret key,
-- macros/cross_db/pseudonym_hmac.sql); only customer ids and cookies, pseudonymous already,
-- also appear as they are. Erased customers are absent.

with

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

golden_records as (

    select * from {{ ref('int_customer_golden_records') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

final as (

    select
        customer_key,
        identifier_type,
        match_method,
        cast(match_probability as double) as match_probability,
        first_seen_at,
        last_seen_at,
        case
            when identifier_type in ('customer_id', 'anonymous_id') then identifier_value
        end as identifier_value,
        {{ pseudonym_hmac('identifier_value') }} as identifier_hmac
    from resolved_nodes
    where
        customer_key in (select golden_records.customer_key from golden_records)
        and customer_key not in (
            select erased_customer_keys.customer_key from erased_customer_keys
        )

)

select * from final
