-- Every raw row that could not be used, from every source, with its reason code and the raw
-- values as they arrived (JSON), so a data owner can fix them at the source. Holds raw PII:
-- lives in the `audit` schema, not for BI tools.

{%- set bases = [
    ['crm_customers', 'base_crm__customers', 'customer_id'],
    ['orders', 'base_commerce__orders', 'order_id'],
    ['order_items', 'base_commerce__order_items', 'order_id'],
    ['products', 'base_commerce__products', 'product_id'],
    ['web_events', 'base_web__events', 'event_id'],
    ['campaign_events', 'base_marketing__campaign_events', 'campaign_id'],
    ['consents', 'base_privacy__consents', 'coalesce(customer_id, email)'],
    ['erasure_requests', 'base_privacy__erasure_requests', 'coalesce(customer_id, email)'],
] %}

with

{% for source_name, base_model, key_expression in bases %}
    {{ source_name }} as (

        select
            '{{ source_name }}' as source_name,
            landing_file,
            cast({{ key_expression }} as {{ dbt.type_string() }}) as record_key,
            quarantine_reason,
            row_fingerprint,
            raw_record
        from {{ ref(base_model) }}
        where row_status = 'quarantined'

    ),

{% endfor %}
unioned as (

    {% for source_name, _, _ in bases %}
        select * from {{ source_name }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_name,
        landing_file,
        record_key,
        quarantine_reason,
        row_fingerprint,
        raw_record,
        {{ as_of_date_sql() }} as as_of_date
    from unioned

)

select * from final
