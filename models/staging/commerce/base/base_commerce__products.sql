-- A table, not a view: it parses every raw row once, and both the staged view and the
-- quarantine read it (a view would re-parse the landing file for each reader).
{{ config(materialized='table') }}

-- Every raw product row with its disposition. The catalogue is not dated, so every valid
-- product is visible at any as_of_date.

with

source as (

    select * from {{ source('commerce', 'products') }}

),

parsed as (

    select
        {{ clean_text('source.product_id') }} as product_id,
        {{ clean_text('source.product_name') }} as product_name,
        lower({{ clean_text('source.category') }}) as category,
        {{ clean_text('source.brand') }} as brand,
        {{ clean_text('source.list_price') }} as list_price_text,
        {{ parse_amount('source.list_price') }} as list_price,
        {{ staging_raw_row_columns(['source.product_id', 'source.product_name', 'source.category',
            'source.brand', 'source.list_price'], shared_flag=false) }}
    from source

),

checked as (

    select
        *,
        {{ first_failing_check([
            ['product_id is null', 'missing_product_id'],
            ['list_price_text is not null and list_price is null', 'unparseable_list_price'],
            ['list_price < 0', 'negative_list_price'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_rows(
        'checked',
        key_columns=['product_id'],
        version_order='row_fingerprint',
        key_mode='conflict',
    ) }}

),

final as (

    select
        product_id,
        product_name,
        category,
        brand,
        list_price,
        {{ staging_disposition_columns() }}
    from classified

)

select * from final
