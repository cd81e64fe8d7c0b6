-- Every staging base table's classification (macro classify_rows, then the `erased` and
-- `expired` tombstones of erasure and retention): row_status is one of the statuses its model
-- can give, and quarantine_reason is set exactly on the quarantined rows. One test over the
-- eight tables instead of three per table; the macro's cases (every status, both key modes,
-- both paths) are pinned by the unit tests on base_commerce__orders, base_crm__customers and
-- base_commerce__order_items. Rows returned = (model, status, reason) pairs that break it.

-- The base tables are private to the ingestion group: so is this test.
{{ config(group='ingestion') }}

{%- set tombstones = ['erased'] -%}
{%- set visible = ['not_yet_visible'] -%}
{%- set allowed_statuses = {
    'base_commerce__orders': visible + tombstones,
    'base_commerce__order_items': visible + tombstones,
    'base_commerce__products': tombstones,
    'base_crm__customers': ['superseded'] + visible + tombstones,
    'base_marketing__campaign_events': visible + tombstones,
    'base_privacy__consents': visible + tombstones,
    'base_privacy__erasure_requests': tombstones,
    'base_web__events': visible + tombstones + ['expired'],
} %}

with

allowed as (
    {% for model_name, statuses in allowed_statuses.items() %}
        {%- set last_model = loop.last %}
        {%- for status in statuses %}
            select
                '{{ model_name }}' as model_name,
                '{{ status }}' as row_status
            {% if not (last_model and loop.last) %}union all{% endif %}
        {%- endfor %}
    {% endfor %}
),

classified as (
    {% for model_name in allowed_statuses %}
        select
            '{{ model_name }}' as model_name,
            row_status,
            quarantine_reason
        from {{ ref(model_name) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (

    select
        classified.model_name,
        classified.row_status,
        classified.quarantine_reason,
        count(*) as row_count
    from classified
    left join allowed
        on
            classified.model_name = allowed.model_name
            and classified.row_status = allowed.row_status
    where
        -- every model can give these three; `allowed` lists the others per model
        (
            allowed.row_status is null
            and classified.row_status is distinct from 'staged'
            and classified.row_status is distinct from 'quarantined'
            and classified.row_status is distinct from 'duplicate'
        )
        or (classified.quarantine_reason is not null)
        != coalesce(classified.row_status = 'quarantined', false)
    group by classified.model_name, classified.row_status, classified.quarantine_reason

)

select * from final
