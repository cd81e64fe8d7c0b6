-- In segment_feature_bins every segment's bins of a feature hold all its members once: the
-- members add up to segment_members and the shares to 1. Rows returned = disagreements.

with

segment_feature_bins as (

    select * from {{ ref('segment_feature_bins') }}

),

final as (

    select
        as_of_date,
        segment_id,
        feature,
        sum(members) as binned_members,
        any_value(segment_members) as segment_members,
        sum(member_share) as total_share
    from segment_feature_bins
    group by as_of_date, segment_id, feature
    having
        sum(members) <> any_value(segment_members)
        or count(distinct segment_members) > 1
        or abs(sum(member_share) - 1) > 1e-9

)

select * from final
