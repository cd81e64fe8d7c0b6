-- Incremental on DuckDB (docs/incremental.md; on Spark the table is overwritten whole,
-- docs/scale_out.md): a run reads only new landing files and the files holding
-- the loaded rows of the groups they touch, re-classifies those groups exactly as a full
-- build would, and replaces them (delete+insert on the group key `order_id`).
{{ config(**staging_incremental_config(
    source=['commerce', 'order_items'],
    key='order_id',
    key_expression=clean_text('order_id'),
    time_column='order_ts',
    future_check=false,
    parent='base_commerce__orders',
    parent_key='order_id',
)) }}

{%- set plan = staging_incremental_plan() %}
{%- set fingerprint_columns = ['source.order_id', 'source.line_number', 'source.product_id',
    'source.quantity', 'source.unit_price'] %}
{%- set group_key = row_fingerprint_text(fingerprint_columns) %}

-- Every raw order line with its disposition. A line is only as usable as its order: it is an
-- orphan when no order row has its order_id, quarantined with its order, and not yet visible
-- while its order is not.

with

source as {{ not_materialized() }} (

    select * from {{ source('commerce', 'order_items') }}
    where {{ staging_source_filter(plan) }}

),

-- The fingerprints read more than once (hashed, from the text the fingerprint hashes). The
-- lines alone under their fingerprint (almost all: exact copies are rare) skip the general
-- classification (classify_rows), which then numbers, joins and ranks only the others.
shared_groups as (

    {{ classify_shared_groups('source', group_key) }}

),

orders as (

    select * from {{ ref('base_commerce__orders') }}

),

order_dispositions as (

    select
        order_id,
        max(case when row_status = 'staged' then order_ts end) as staged_order_ts,
        max(case when row_status = 'not_yet_visible' then order_ts end) as later_order_ts,
        count(*) as order_rows
    from orders
    where order_id is not null
    group by order_id

),

parsed as {{ not_materialized() }} (

    select
        {{ clean_text('source.order_id') }} as order_id,
        {{ parse_integer('source.line_number') }} as line_number,
        {{ clean_text('source.product_id') }} as product_id,
        {{ clean_text('source.quantity') }} as quantity_text,
        {{ parse_integer('source.quantity') }} as quantity,
        {{ clean_text('source.unit_price') }} as unit_price_text,
        {{ parse_amount('source.unit_price') }} as unit_price,
        {{ clean_text('source.line_number') }} is not null
        and {{ parse_integer('source.line_number') }} is null as has_unparseable_line_number,
        {{ staging_raw_row_columns(fingerprint_columns) }}
    from source
    {{ classify_shared_join(group_key) }}

),

checked as {{ not_materialized() }} (

    select
        parsed.*,
        coalesce(
            order_dispositions.staged_order_ts, order_dispositions.later_order_ts
        ) as order_ts,
        {{ first_failing_check([
            ['parsed.order_id is null', 'missing_order_id'],
            ['order_dispositions.order_id is null', 'orphan_order_line'],
            ['order_dispositions.staged_order_ts is null and order_dispositions.later_order_ts is null', 'parent_order_quarantined'],
            ['parsed.product_id is null', 'missing_product_id'],
            ['has_unparseable_line_number', 'unparseable_line_number'],
            ['quantity_text is null', 'missing_quantity'],
            ['quantity is null', 'unparseable_quantity'],
            ['quantity <= 0', 'non_positive_quantity'],
            ['unit_price_text is null', 'missing_unit_price'],
            ['unit_price is null', 'unparseable_unit_price'],
            ['unit_price < 0', 'negative_unit_price'],
        ]) }} as quarantine_reason
    from parsed
    left join order_dispositions
        on parsed.order_id = order_dispositions.order_id

),

classified as (

    {{ classify_incremental_batch(plan, visible_at='order_ts') }}

),

final as (

    select
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        cast(quantity * unit_price as decimal(18, 2)) as line_amount,
        order_ts,
        {{ staging_disposition_columns(run_stamp=true) }}
    from classified

)

select * from final
