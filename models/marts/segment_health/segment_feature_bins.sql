-- Distribution of key features within each segment, per as_of_date: one row per as_of_date,
-- segment, feature (var health__drift_features, numeric customer_features columns) and bin,
-- with the share of the segment's members in the bin. segment_feature_drift compares
-- consecutive runs of it (population stability index).
-- Bins are fixed per feature from a reference run, so runs are comparable: the edges of
-- int_segment_feature_candidate_bins (equal-frequency quantiles of the whole customer
-- population) at the first run that recorded the feature, kept until a --full-refresh. Bin 0
-- holds nulls. Every bin is listed for every segment (zero members included): a few thousand
-- rows per run instead of a snapshot of every customer's features.
-- Incremental, forward only (like segment_membership_history): a rerun at the same
-- as_of_date replaces its rows (pre-hook health_rewind); an earlier date stops the build.

{{ config(**health_incremental_config()) }}

{%- do health_incremental_guards(require_history=false) %}
{%- set features = var('health__drift_features') %}
{%- set as_of = as_of_date_sql() %}

with

feature_values as (

    select * from {{ ref('int_segment_feature_values') }}

),

candidate_bins as (

    select * from {{ ref('int_segment_feature_candidate_bins') }}

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

drift_features as (

    select feature_list.feature
    from (
        values
        {%- for feature in features %}
            ({{ string_literal(feature) }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as feature_list (feature)

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
            cast(null as {{ dbt.type_string() }}) as feature,
            cast(null as integer) as bin_index,
            cast(null as double) as bin_lower,
            cast(null as double) as bin_upper,
            cast(null as date) as reference_as_of_date
        where false
    {%- endif %}

),

-- Features without recorded bins get edges from today's population.
new_features as (

    select feature from drift_features
    where feature not in (select recorded_bins.feature from recorded_bins)

),

bins as (

    select * from recorded_bins
    where feature in (select drift_features.feature from drift_features)
    union all
    select
        feature,
        bin_index,
        bin_lower,
        bin_upper,
        {{ as_of }} as reference_as_of_date
    from candidate_bins
    where feature in (select new_features.feature from new_features)

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
