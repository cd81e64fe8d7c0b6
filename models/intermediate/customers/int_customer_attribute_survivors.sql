-- The surviving value of every golden-record attribute of every customer with a CRM record,
-- chosen by the attribute's rule in seed survivorship_rules (an attribute the seed does not
-- list falls back to most_recent, and the seed's tests require every attribute):
--   most_recent      the value of the most recently written record that has one
--   most_frequent    the value most of the customer's records agree on
--   source_priority  the value of the most trusted source system (seed source_system_priority)
--   longest          the longest (most complete) value
--   validated_only   most_recent among values that pass validation (email: is_email_valid)
-- Ties, for every rule, go to the value written most recently, then the more trusted source,
-- then the smaller customer_id, then the smaller value: the same records always give the same
-- winner. winning_source_system / winning_customer_id name the record the value came from.

with

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

record_keys as (

    select * from {{ ref('int_identity_record_keys') }}

),

source_system_priority as (

    select * from {{ ref('source_system_priority') }}

),

survivorship_rules as (

    select * from {{ ref('survivorship_rules') }}

),

customer_records as (

    select
        crm_customers.*,
        record_keys.customer_key,
        coalesce(source_system_priority.priority, 999999) as source_priority
    from crm_customers
    inner join record_keys
        on
            record_keys.record_type = 'crm_customer'
            and crm_customers.customer_id = record_keys.record_id
    left join source_system_priority
        on crm_customers.source_system = source_system_priority.source_system
    where record_keys.customer_key is not null

),

-- One row per record and attribute that has a value (long form, the value as text).
attribute_values as (
    {% for attribute in golden_record_attributes() %}
        select
            customer_key,
            customer_id,
            source_system,
            source_priority,
            updated_at,
            '{{ attribute.name }}' as attribute_name,
            cast({{ attribute.name }} as {{ dbt.type_string() }}) as attribute_value,
            {{ attribute.is_valid }} as is_valid
        from customer_records
        where {{ attribute.name }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ruled_values as (

    select
        attribute_values.*,
        coalesce(survivorship_rules.survivorship_rule, 'most_recent') as survivorship_rule
    from attribute_values
    left join survivorship_rules
        on attribute_values.attribute_name = survivorship_rules.attribute_name

),

eligible_values as (

    select * from ruled_values
    where survivorship_rule <> 'validated_only' or is_valid

),

-- Per distinct value: how many records carry it, and the record it is credited to (the
-- most trusted one under source_priority, else the most recently written one).
value_votes as (

    select
        *,
        count(*) over (
            partition by customer_key, attribute_name, attribute_value
        ) as supporting_records,
        row_number() over (
            partition by customer_key, attribute_name, attribute_value
            order by
                case when survivorship_rule = 'source_priority' then source_priority end asc nulls last,
                updated_at desc nulls last,
                source_priority asc,
                customer_id asc
        ) as record_rank
    from eligible_values

),

ranked_values as (

    select
        *,
        count(*) over (partition by customer_key, attribute_name) as candidate_values,
        row_number() over (
            partition by customer_key, attribute_name
            order by
                case when survivorship_rule = 'most_frequent' then supporting_records end desc nulls last,
                case when survivorship_rule = 'longest' then length(attribute_value) end desc nulls last,
                case when survivorship_rule = 'source_priority' then source_priority end asc nulls last,
                updated_at desc nulls last,
                source_priority asc,
                customer_id asc,
                attribute_value asc
        ) as value_rank
    from value_votes
    where record_rank = 1

),

final as (

    select
        customer_key,
        attribute_name,
        attribute_value,
        survivorship_rule,
        source_system as winning_source_system,
        customer_id as winning_customer_id,
        updated_at as winning_updated_at,
        supporting_records,
        candidate_values
    from ranked_values
    where value_rank = 1

)

select * from final
