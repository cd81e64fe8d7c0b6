-- segment_migration at the current as_of_date: the customers arriving in each to-segment add
-- up to that segment's primary members in segment_membership (every customer has exactly one
-- primary segment per exclusivity group). Rows returned = disagreements. Nothing to check at
-- the first run (no transitions).

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

segment_migration as (

    select * from {{ ref('segment_migration') }}
    where as_of_date = {{ as_of_date_sql() }}

),

primary_sizes as (

    select
        exclusivity_group,
        segment_id,
        count(*) as primary_members
    from segment_membership
    where is_primary
    group by exclusivity_group, segment_id

),

arrivals as (

    select
        exclusivity_group,
        to_segment_id as segment_id,
        sum(customers) as customers
    from segment_migration
    where to_segment_id is not null
    group by exclusivity_group, to_segment_id

),

final as (

    select
        primary_sizes.primary_members,
        arrivals.customers as migrated_customers,
        coalesce(primary_sizes.exclusivity_group, arrivals.exclusivity_group) as exclusivity_group,
        coalesce(primary_sizes.segment_id, arrivals.segment_id) as segment_id
    from primary_sizes
    full outer join arrivals
        on
            primary_sizes.exclusivity_group = arrivals.exclusivity_group
            and primary_sizes.segment_id = arrivals.segment_id
    where
        exists (select 1 from segment_migration)
        and coalesce(primary_sizes.primary_members, 0) <> coalesce(arrivals.customers, 0)

)

select * from final
