-- segment_health at the current as_of_date lists every segment of segment_membership with its
-- member count, and no other segment with members. Rows returned = disagreements.

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

segment_health as (

    select * from {{ ref('segment_health') }}
    where as_of_date = {{ as_of_date_sql() }}

),

membership_sizes as (

    select
        segment_id,
        count(*) as members
    from segment_membership
    group by segment_id

),

final as (

    select
        membership_sizes.members as membership_members,
        segment_health.members as health_members,
        coalesce(membership_sizes.segment_id, segment_health.segment_id) as segment_id
    from membership_sizes
    full outer join segment_health
        on membership_sizes.segment_id = segment_health.segment_id
    where coalesce(membership_sizes.members, 0) <> coalesce(segment_health.members, -1)

)

select * from final
