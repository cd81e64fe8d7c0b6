-- Incremental on DuckDB (docs/incremental.md; on Spark the table is overwritten whole,
-- docs/scale_out.md): a run reads only new landing files and the files holding
-- the loaded rows of the groups they touch, re-classifies those groups exactly as a full
-- build would, and replaces them (delete+insert on the group key `order_id`).
{{ config(**staging_incremental_config(
    source=['commerce', 'orders'],
    key='order_id',
    key_expression=clean_text('order_id'),
    time_column='order_ts',
    future_check=true,
)) }}

{%- set plan = staging_incremental_plan() %}
{%- set group_key = clean_text('source.order_id') %}

-- Every raw order row, typed and normalised, with its disposition (row_status) and, when it
-- cannot be used, a reason code. stg_commerce__orders publishes the staged rows.

with

source as {{ not_materialized() }} (

    select * from {{ source('commerce', 'orders') }}
    where {{ staging_source_filter(plan) }}

),

-- The order_ids read more than once (hashed). The orders alone under their order_id (almost
-- all) skip the general classification (classify_rows), which then numbers, joins and ranks
-- only the others.
shared_groups as (

    {{ classify_shared_groups('source', group_key) }}

),

currency_rates as (

    select * from {{ ref('currency_rates') }}

),

parsed as {{ not_materialized() }} (

    select
        {{ clean_text('source.order_id') }} as order_id,
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        {{ clean_text('source.loyalty_id') }} as loyalty_id,
        {{ clean_text('source.anonymous_id') }} as anonymous_id,
        lower({{ clean_text('source.channel') }}) as channel,
        lower({{ clean_text('source.status') }}) as status,
        coalesce(
            upper({{ clean_text('source.currency') }}),
            '{{ var("segments__reporting_currency") }}'
        ) as currency_code,
        currency_rates.rate_to_reporting_currency,
        {{ clean_text('source.order_total') }} as order_total_text,
        {{ parse_amount('source.order_total') }} as order_total,
        {{ clean_text('source.discount_amount') }} as discount_amount_text,
        {{ parse_amount('source.discount_amount') }} as discount_amount,
        {{ clean_text('source.order_ts') }} as order_ts_text,
        {{ parse_timestamp_utc('source.order_ts') }} as order_ts,
        {{ staging_raw_row_columns(['source.order_id', 'source.customer_id', 'source.email',
            'source.loyalty_id', 'source.anonymous_id', 'source.order_ts', 'source.channel',
            'source.status', 'source.currency', 'source.order_total',
            'source.discount_amount']) }}
    from source
    {{ classify_shared_join(group_key) }}
    left join currency_rates
        on coalesce(
            upper({{ clean_text('source.currency') }}),
            '{{ var("segments__reporting_currency") }}'
        ) = currency_rates.currency_code

),

checked as {{ not_materialized() }} (

    select
        *,
        {{ first_failing_check([
            ['order_id is null', 'missing_order_id'],
        ] + timestamp_checks('order_ts') + [
            ['order_total_text is null', 'missing_order_total'],
            ['order_total is null', 'unparseable_order_total'],
            ['order_total < 0', 'negative_order_total'],
            ['order_total >= ' ~ var('segments__max_order_total'), 'absurd_order_total'],
            ['discount_amount_text is not null and discount_amount is null', 'unparseable_discount_amount'],
            ['discount_amount < 0', 'negative_discount_amount'],
            ["status is null or status not in ('" ~ var('segments__order_statuses') | join("', '") ~ "')", 'unknown_status'],
            ['rate_to_reporting_currency is null', 'unknown_currency'],
            ['customer_id is null and email is null and loyalty_id is null and anonymous_id is null', 'no_customer_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_incremental_batch(plan, visible_at='order_ts',
        key_columns=['order_id'],
        version_order='order_ts desc, row_fingerprint',
        key_mode='conflict',
    ) }}

),

final as (

    select
        order_id,
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        loyalty_id,
        anonymous_id,
        channel,
        status,
        currency_code,
        order_total,
        coalesce(discount_amount, 0) as discount_amount,
        cast(order_total * rate_to_reporting_currency as decimal(18, 2)) as order_total_reporting,
        cast(
            coalesce(discount_amount, 0) * rate_to_reporting_currency as decimal(18, 2)
        ) as discount_amount_reporting,
        order_ts,
        {{ staging_disposition_columns(run_stamp=true) }}
    from classified

)

select * from final
