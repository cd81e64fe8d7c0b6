-- One row per customer and drift feature (var health__drift_features, numeric
-- customer_features columns) at as_of_date, the value as a double, nulls kept (they have their
-- own bin in segment_feature_bins). Ephemeral: only segment_feature_bins reads it
-- (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set features = var('health__drift_features') %}

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

final as (

    select
        customer_key,
        feature,
        feature_value
    from (
        select
            customer_key,
            {%- for feature in features %}
                cast({{ adapter.quote(feature) }} as double) as {{ adapter.quote(feature) }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from customer_features
    ) unpivot include nulls (
        feature_value for feature in (
            {%- for feature in features %}
                {{ adapter.quote(feature) }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    )

)

select * from final
