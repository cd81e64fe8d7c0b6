-- Per source: raw rows in the landing file = staged + quarantined + duplicates + superseded
-- versions + rows not yet visible at as_of_date + erased and expired rows
-- (tombstones, docs/erasure.md).
-- Counts the raw views directly (not the base models) so that a staging bug that drops or
-- multiplies rows shows up here.

{%- set sources = [
    ['crm_customers', source('crm', 'crm_customers'), 'base_crm__customers'],
    ['orders', source('commerce', 'orders'), 'base_commerce__orders'],
    ['order_items', source('commerce', 'order_items'), 'base_commerce__order_items'],
    ['products', source('commerce', 'products'), 'base_commerce__products'],
    ['web_events', source('web', 'web_events'), 'base_web__events'],
    ['campaign_events', source('marketing', 'campaign_events'), 'base_marketing__campaign_events'],
    ['consents', source('privacy', 'consents'), 'base_privacy__consents'],
    ['erasure_requests', source('privacy', 'erasure_requests'), 'base_privacy__erasure_requests'],
] %}

with

raw_counts as (

    {% for source_name, raw_relation, _ in sources %}
        select
            '{{ source_name }}' as source_name,
            count(*) as raw_rows
        from {{ raw_relation }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

disposition_counts as (

    {% for source_name, _, base_model in sources %}
        select
            '{{ source_name }}' as source_name,
            count(*) filter (where row_status = 'staged') as staged_rows,
            count(*) filter (where row_status = 'quarantined') as quarantined_rows,
            count(*) filter (where row_status = 'duplicate') as duplicate_rows,
            count(*) filter (where row_status = 'superseded') as superseded_rows,
            count(*) filter (where row_status = 'not_yet_visible') as not_yet_visible_rows,
            count(*) filter (where row_status = 'erased') as erased_rows,
            count(*) filter (where row_status = 'expired') as expired_rows
        from {{ ref(base_model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        raw_counts.source_name,
        raw_counts.raw_rows,
        disposition_counts.staged_rows,
        disposition_counts.quarantined_rows,
        disposition_counts.duplicate_rows,
        disposition_counts.superseded_rows,
        disposition_counts.not_yet_visible_rows,
        disposition_counts.erased_rows,
        disposition_counts.expired_rows,
        cast(disposition_counts.quarantined_rows as double)
        / nullif(raw_counts.raw_rows, 0) as quarantine_rate,
        raw_counts.raw_rows = disposition_counts.staged_rows
        + disposition_counts.quarantined_rows
        + disposition_counts.duplicate_rows
        + disposition_counts.superseded_rows
        + disposition_counts.not_yet_visible_rows
        + disposition_counts.erased_rows
        + disposition_counts.expired_rows as is_reconciled,
        {{ as_of_date_sql() }} as as_of_date
    from raw_counts
    inner join disposition_counts
        on raw_counts.source_name = disposition_counts.source_name

)

select * from final
