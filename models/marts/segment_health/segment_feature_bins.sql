-- Distribution of key features within each segment, per as_of_date: one row per as_of_date,
-- segment, feature (var health__drift_features, numeric customer_features columns) and bin,
-- with the share of the segment's members in the bin. segment_feature_drift compares
-- consecutive runs of it (population stability index).
-- Bins are fixed per feature from a reference run, so runs are comparable: the edges are the
-- var health__drift_bins equal-frequency quantiles (quantile_disc) of the whole customer
-- population at the first run that recorded the feature, kept until a --full-refresh. Bin 0
-- holds nulls; bin 1 is below the first edge, bin i in [edge i-1, edge i), the last bin from
-- the last edge up. Tied values merge quantiles (orders mostly 0), so a feature can have fewer
-- bins. Every bin is listed for every segment (zero members included): a few thousand rows per
-- run instead of a snapshot of every customer's features.
-- Incremental, forward only (like segment_membership_history): a rerun at the same
-- as_of_date replaces its rows (pre-hook health_rewind); an earlier date stops the build.

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ health_rewind() }}",
) }}

{%- do health_refuse_earlier_as_of_date() %}
{%- set features = var('health__drift_features') %}
{%- set bin_count = var('health__drift_bins') | int %}
{%- set as_of = as_of_date_sql() %}

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

drift_features as (

    select unnest([
        {%- for feature in features %}
            {{ sql_string_literal(feature) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    ]) as feature

),

-- The bins of each feature's reference run (its earliest as_of_date here); none on the first
-- run, and none for a feature added to the var since.
recorded_bins as (

    {% if is_incremental() -%}
        select
            feature,
            bin_index,
            bin_lower,
            bin_upper,
            reference_as_of_date
        from {{ this }}
        where as_of_date = reference_as_of_date
        group by all
    {%- else -%}
        select
            cast(null as varchar) as feature,
            cast(null as integer) as bin_index,
            cast(null as double) as bin_lower,
            cast(null as double) as bin_upper,
            cast(null as date) as reference_as_of_date
        where false
    {%- endif %}

),

-- One row per customer and feature, nulls kept (they have their own bin).
feature_values as (

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

),

-- Features without recorded bins get edges from today's population.
new_features as (

    select feature from drift_features
    where feature not in (select recorded_bins.feature from recorded_bins)

),

new_quantiles as (

    select
        feature_values.feature,
        quantile_disc(
            feature_values.feature_value,
            [
                {%- for step in range(1, bin_count) %}
                    {{ step / bin_count }}{% if not loop.last %},{% endif %}
                {%- endfor %}
            ]
        ) as quantiles
    from feature_values
    inner join new_features
        on feature_values.feature = new_features.feature
    where feature_values.feature_value is not null
    group by feature_values.feature

),

new_edges as (

    select distinct
        feature,
        unnest(quantiles) as edge
    from new_quantiles

),

numbered_edges as (

    select
        feature,
        edge,
        row_number() over (partition by feature order by edge) as edge_number
    from new_edges

),

new_bins as (

    -- nulls
    select
        feature,
        0 as bin_index,
        cast(null as double) as bin_lower,
        cast(null as double) as bin_upper
    from new_features
    union all
    -- below each edge, from the previous one
    select
        feature,
        cast(edge_number as integer) as bin_index,
        lag(edge) over (partition by feature order by edge) as bin_lower,
        edge as bin_upper
    from numbered_edges
    union all
    -- from the last edge up (everything, when the feature had no values)
    select
        new_features.feature,
        cast(coalesce(max(numbered_edges.edge_number), 0) + 1 as integer) as bin_index,
        max(numbered_edges.edge) as bin_lower,
        cast(null as double) as bin_upper
    from new_features
    left join numbered_edges
        on new_features.feature = numbered_edges.feature
    group by new_features.feature

),

bins as (

    select
        feature,
        bin_index,
        bin_lower,
        bin_upper,
        reference_as_of_date
    from recorded_bins
    where feature in (select drift_features.feature from drift_features)
    union all
    select
        feature,
        bin_index,
        bin_lower,
        bin_upper,
        {{ as_of }} as reference_as_of_date
    from new_bins

),

customer_bins as (

    select
        feature_values.customer_key,
        feature_values.feature,
        bins.bin_index
    from feature_values
    inner join bins
        on
            feature_values.feature = bins.feature
            and bins.bin_index > 0
            and feature_values.feature_value >= coalesce(bins.bin_lower, cast('-infinity' as double))
            and feature_values.feature_value < coalesce(bins.bin_upper, cast('infinity' as double))
    union all
    select
        customer_key,
        feature,
        0 as bin_index
    from feature_values
    where feature_value is null

),

segment_sizes as (

    select
        segment_id,
        count(*) as segment_members
    from segment_membership
    group by segment_id

),

bin_counts as (

    select
        segment_membership.segment_id,
        customer_bins.feature,
        customer_bins.bin_index,
        count(*) as members
    from segment_membership
    inner join customer_bins
        on segment_membership.customer_key = customer_bins.customer_key
    group by segment_membership.segment_id, customer_bins.feature, customer_bins.bin_index

),

final as (

    select
        segment_sizes.segment_id,
        bins.feature,
        bins.bin_index,
        bins.bin_lower,
        bins.bin_upper,
        coalesce(bin_counts.members, 0) as members,
        segment_sizes.segment_members,
        coalesce(bin_counts.members, 0) / segment_sizes.segment_members as member_share,
        {{ as_of }} as as_of_date,
        bins.reference_as_of_date
    from segment_sizes
    cross join bins
    left join bin_counts
        on
            segment_sizes.segment_id = bin_counts.segment_id
            and bins.feature = bin_counts.feature
            and bins.bin_index = bin_counts.bin_index

)

select * from final
