-- One golden record per customer (every customer_key with a CRM record or an order), with raw
-- PII: the source for dim_customers (which publishes only what a mart needs) and for
-- consent-gated activation. Survivorship is per attribute (int_customer_attribute_survivors,
-- rules in seed survivorship_rules): each attribute comes with the rule that chose it
-- (<attribute>_rule) and the source system of the record it came from (<attribute>_source).
-- Customers known only from orders (guest checkouts) take their email from the most recently
-- seen email identifier (email_rule 'latest_email_identifier', no source system).

with

attribute_survivors as (

    select * from {{ ref('int_customer_attribute_survivors') }}

),

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
record_keys as {{ not_materialized() }} (

    select * from {{ ref('int_identity_record_keys') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

crm_record_counts as (

    select
        customer_key,
        count(*) as crm_record_count
    from record_keys
    where record_type = 'crm_customer' and customer_key is not null
    group by customer_key

),

-- Long to wide: one column per attribute, with its rule and winning source system.
survivors as (

    select
        customer_key,
        {% for attribute in golden_record_attributes() %}
            cast(
                max(case when attribute_name = '{{ attribute.name }}' then attribute_value end)
                as {{ attribute.data_type }}
            ) as {{ attribute.name }},
            max(case when attribute_name = '{{ attribute.name }}' then survivorship_rule end)
                as {{ attribute.name }}_rule,
            max(case when attribute_name = '{{ attribute.name }}' then winning_source_system end)
                as {{ attribute.name }}_source{% if not loop.last %},{% endif %}
        {% endfor %}
    from attribute_survivors
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
        {{ arg_max_by('identifier_value', 'last_seen_at') }} filter (where identifier_type = 'email') as latest_email,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from resolved_nodes
    group by customer_key

),

final as (

    select
        customer_keys.customer_key,
        customer_keys.customer_sk,
        {% for attribute in golden_record_attributes() if attribute.name != 'email' %}
            survivors.{{ attribute.name }},
        {% endfor %}
        identifier_summary.identifier_count,
        identifier_summary.has_probabilistic_match,
        identifier_summary.was_cut_by_cap,
        identifier_summary.first_seen_at,
        identifier_summary.last_seen_at,
        coalesce(survivors.email, identifier_summary.latest_email) as email,
        coalesce(crm_record_counts.crm_record_count, 0) as crm_record_count,
        {% for attribute in golden_record_attributes() if attribute.name != 'email' %}
            survivors.{{ attribute.name }}_rule,
            survivors.{{ attribute.name }}_source,
        {% endfor %}
        case
            when survivors.email is not null then survivors.email_rule
            when identifier_summary.latest_email is not null then 'latest_email_identifier'
        end as email_rule,
        survivors.email_source
    from customer_keys
    inner join identifier_summary
        on customer_keys.customer_key = identifier_summary.customer_key
    left join survivors
        on customer_keys.customer_key = survivors.customer_key
    left join crm_record_counts
        on customer_keys.customer_key = crm_record_counts.customer_key

)

select * from final
