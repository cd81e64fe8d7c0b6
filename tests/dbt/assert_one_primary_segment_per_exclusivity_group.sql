-- Every customer has exactly one primary segment in every exclusivity group: 'rfm',
-- 'lifecycle', 'churn_risk' and the group of every active rule (the fallback fills the gaps). Rows returned
-- = customer and group with no primary segment or more than one.

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

segment_definitions as (

    select * from {{ ref('segment_definitions') }}

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

exclusivity_groups as (

    select 'rfm' as exclusivity_group
    union
    select 'lifecycle' as exclusivity_group
    union
    select 'churn_risk' as exclusivity_group
    union
    select exclusivity_group from segment_definitions
    where is_active

),

primary_segments as (

    select
        customer_key,
        exclusivity_group,
        count(*) as primaries
    from segment_membership
    where is_primary
    group by customer_key, exclusivity_group

),

final as (

    select
        customer_features.customer_key,
        exclusivity_groups.exclusivity_group,
        coalesce(primary_segments.primaries, 0) as primaries
    from customer_features
    cross join exclusivity_groups
    left join primary_segments
        on
            customer_features.customer_key = primary_segments.customer_key
            and exclusivity_groups.exclusivity_group = primary_segments.exclusivity_group
    where coalesce(primary_segments.primaries, 0) <> 1

)

select * from final
