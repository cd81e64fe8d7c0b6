-- The bins each drift feature would get from the customer population at as_of_date: the
-- var health__drift_bins equal-frequency quantiles (quantile_disc) as edges. Bin 0 holds
-- nulls; bin 1 is below the first edge, bin i in [edge i-1, edge i), the last bin from the
-- last edge up. Tied values merge quantiles (orders mostly 0), so a feature can have fewer
-- bins. segment_feature_bins keeps these only for a feature without recorded bins (its first
-- run). Ephemeral: only segment_feature_bins reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set bin_count = var('health__drift_bins') | int %}
{%- if bin_count < 2 %}
    {{ exceptions.raise_compiler_error(
        "var health__drift_bins must be a whole number of bins >= 2 (one edge at least), got '"
        ~ var('health__drift_bins') ~ "' (dbt_project.yml)."
    ) }}
{%- endif %}

with

feature_values as (

    select * from {{ ref('int_segment_feature_values') }}

),

quantiles as (

    select
        feature,
        {%- for step in range(1, bin_count) %}
            {{ quantile_disc('feature_value', step / bin_count) }} as edge_{{ step }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from feature_values
    where feature_value is not null
    group by feature

),

edges as (

    {%- for step in range(1, bin_count) %}
        select distinct
            feature,
            edge_{{ step }} as edge
        from quantiles
        {%- if not loop.last %}
            union
        {%- endif %}
    {%- endfor %}

),

numbered_edges as (

    select
        feature,
        edge,
        row_number() over (partition by feature order by edge) as edge_number
    from edges

),

features as (

    select feature_list.feature
    from (
        values
        {%- for feature in var('health__drift_features') %}
            ({{ string_literal(feature) }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as feature_list (feature)

),

final as (

    -- nulls
    select
        feature,
        0 as bin_index,
        cast(null as double) as bin_lower,
        cast(null as double) as bin_upper
    from features
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
        features.feature,
        cast(coalesce(max(numbered_edges.edge_number), 0) + 1 as integer) as bin_index,
        max(numbered_edges.edge) as bin_lower,
        cast(null as double) as bin_upper
    from features
    left join numbered_edges
        on features.feature = numbered_edges.feature
    group by features.feature

)

select * from final
