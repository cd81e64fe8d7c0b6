-- Active rule segments smaller than their min_size (seed segment_definitions): too small to
-- activate on most ad platforms. A warning for the segment's owner, not a build failure.

{{ config(severity='warn') }}

with

segment_definitions as (

    select * from {{ ref('segment_definitions') }}
    where is_active

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

segment_sizes as (

    select
        segment_id,
        count(*) as members
    from segment_membership
    where segment_family = 'rule'
    group by segment_id

),

final as (

    select
        segment_definitions.segment_id,
        segment_definitions.owner,
        segment_definitions.min_size,
        coalesce(segment_sizes.members, 0) as members
    from segment_definitions
    left join segment_sizes
        on segment_definitions.segment_id = segment_sizes.segment_id
    where coalesce(segment_sizes.members, 0) < segment_definitions.min_size

)

select * from final
