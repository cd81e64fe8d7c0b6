-- Transitions between consecutive runs, per exclusivity group: one row per as_of_date, group,
-- from-segment (the customer's primary segment of the group at the previous run) and
-- to-segment (at this run), with the number of customers and the share of the from-segment's
-- customers that went there (the row of the transition matrix: "of At Risk, 20% became Lost").
-- Read from segment_membership_history (the membership at the previous run = spells open
-- before this as_of_date) and segment_membership (now). The history keeps every membership,
-- not which one was primary: the previous primary is recomputed the way segment_membership
-- picks it (lowest priority of seed segment_definitions, ties by segment_id), with today's
-- priorities. from_segment_id null = the customer was not there at the previous run (new
-- customer, or a key split off another; a merged customer's spells moved to the surviving key,
-- see customer_key_successors); to_segment_id null = no longer there. No rows at the first run
-- (nothing to compare with).
-- Incremental, forward only: a rerun at the same as_of_date replaces its rows (pre-hook
-- health_rewind); an earlier date stops the build.

{{ config(**health_incremental_config()) }}

{%- do health_incremental_guards() %}
{%- set as_of = as_of_date_sql() %}

with

{{ import_ctes(['segment_membership', 'segment_membership_history', 'segment_definitions']) }},

segment_health_runs as (

    select * from {{ ref('segment_health_runs') }}
    where as_of_date = {{ as_of }}

),

-- Memberships at the previous run of the history: spells that began before this as_of_date
-- and were still open when it began (closed now or still open).
previous_memberships as (

    select
        customer_key,
        segment_id,
        exclusivity_group
    from segment_membership_history
    where
        valid_from < {{ as_of }}
        and (valid_to is null or valid_to = {{ as_of }})

),

previous_primary as (

    select
        customer_key,
        exclusivity_group,
        segment_id
    from (
        select
            previous_memberships.customer_key,
            previous_memberships.exclusivity_group,
            previous_memberships.segment_id,
            row_number() over (
                partition by previous_memberships.customer_key, previous_memberships.exclusivity_group
                order by segment_definitions.priority nulls last, previous_memberships.segment_id
            ) as priority_rank
        from previous_memberships
        left join segment_definitions
            on previous_memberships.segment_id = segment_definitions.segment_id
    ) as ranked_memberships
    where priority_rank = 1

),

current_primary as (

    select
        customer_key,
        exclusivity_group,
        segment_id
    from segment_membership
    where is_primary

),

transitions as (

    select
        previous_primary.segment_id as from_segment_id,
        current_primary.segment_id as to_segment_id,
        coalesce(previous_primary.exclusivity_group, current_primary.exclusivity_group) as exclusivity_group,
        count(*) as customers
    from previous_primary
    full outer join current_primary
        on
            previous_primary.customer_key = current_primary.customer_key
            and previous_primary.exclusivity_group = current_primary.exclusivity_group
    group by all

),

classified as (

    select
        transitions.exclusivity_group,
        transitions.from_segment_id,
        transitions.to_segment_id,
        transitions.customers,
        segment_health_runs.previous_as_of_date,
        case
            when transitions.from_segment_id is null then 'arrived'
            when transitions.to_segment_id is null then 'left'
            when transitions.from_segment_id = transitions.to_segment_id then 'stayed'
            else 'moved'
        end as transition_type,
        transitions.customers / sum(transitions.customers) over (
            partition by transitions.exclusivity_group, transitions.from_segment_id
        ) as transition_rate
    from transitions
    cross join segment_health_runs
    -- The first run of the history has nothing to compare with.
    where exists (select 1 from previous_memberships)

),

final as (

    select
        exclusivity_group,
        from_segment_id,
        to_segment_id,
        transition_type,
        customers,
        transition_rate,
        {{ as_of }} as as_of_date,
        previous_as_of_date
    from classified

)

select * from final
