-- Overlap and drift signals per segment at as_of_date: the closest judged neighbour by
-- Jaccard index (segment_overlap.is_judged pairs) and the feature with the highest population
-- stability index (segment_feature_drift), with their alert flags. One row per segment with
-- either. Ephemeral: only segment_health reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

with

segment_overlap as (

    select * from {{ ref('segment_overlap') }}

),

segment_feature_drift as (

    select * from {{ ref('segment_feature_drift') }}
    where as_of_date = {{ as_of_date_sql() }}

),

closest_overlaps as (

    select
        segment_id,
        max(jaccard_index) as max_overlap_jaccard,
        {{ arg_max_by('other_segment_id', 'jaccard_index') }} as max_overlap_segment_id,
        bool_or(is_high_overlap) as is_high_overlap
    from segment_overlap
    where is_judged
    group by segment_id

),

feature_drifts as (

    select
        segment_id,
        max(population_stability_index) as max_feature_psi,
        {{ arg_max_by('feature', 'population_stability_index') }} as max_psi_feature,
        bool_or(is_drift_alert) as is_feature_drift
    from segment_feature_drift
    group by segment_id

),

final as (

    select
        closest_overlaps.max_overlap_jaccard,
        closest_overlaps.max_overlap_segment_id,
        closest_overlaps.is_high_overlap,
        feature_drifts.max_feature_psi,
        feature_drifts.max_psi_feature,
        feature_drifts.is_feature_drift,
        coalesce(closest_overlaps.segment_id, feature_drifts.segment_id) as segment_id
    from closest_overlaps
    full outer join feature_drifts
        on closest_overlaps.segment_id = feature_drifts.segment_id

)

select * from final
