-- The segments segment_health reports at as_of_date, one row each, and how their membership
-- moved since the previous run. Listed: those with members now or at the previous run, every
-- active rule of seed segment_definitions and every RFM segment of seed rfm_segment_map, so
-- an emptied segment shows up instead of disappearing. Entered / exited / stayed count spells
-- of segment_membership_history opened at as_of_date, closed at it, or opened earlier and
-- still open; null when the history holds no earlier run. segment_name and is_fallback are
-- null for a segment only the previous run knew: segment_health takes them from its own
-- previous rows. Ephemeral: only segment_health reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set as_of = as_of_date_sql() %}

with

{{ import_ctes(['segment_membership', 'segment_membership_history']) }},

segment_definitions as (

    select * from {{ ref('segment_definitions') }}
    where is_active

),

rfm_segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

-- This run's changes, per segment. The previous run's members are the exited and the stayed.
membership_changes as (

    select
        segment_id,
        any_value(segment_family) as segment_family,
        any_value(exclusivity_group) as exclusivity_group,
        count(*) filter (where valid_from = {{ as_of }}) as entered,
        count(*) filter (where valid_to = {{ as_of }}) as exited,
        count(*) filter (where valid_from < {{ as_of }} and valid_to is null) as stayed
    from segment_membership_history
    where valid_to is null or valid_to = {{ as_of }}
    group by segment_id

),

-- The history holds an earlier run (any spell that began before this as_of_date).
history_runs as (

    select count(*) filter (where valid_from < {{ as_of }}) > 0 as has_previous_run
    from segment_membership_history

),

current_segments as (

    select
        segment_id,
        any_value(segment_family) as segment_family,
        any_value(exclusivity_group) as exclusivity_group,
        any_value(segment_name) as segment_name,
        bool_or(is_fallback) as is_fallback
    from segment_membership
    group by segment_id

),

segment_ids as (

    select segment_id from current_segments
    union
    select segment_id from segment_definitions
    union
    select 'rfm_' || rfm_segment_id as segment_id from rfm_segment_map
    union
    select segment_id from membership_changes
    where exited > 0 or stayed > 0

),

segments as (

    select
        segment_ids.segment_id,
        segment_definitions.min_size,
        current_segments.is_fallback,
        coalesce(
            current_segments.segment_family,
            case when segment_definitions.segment_id is not null then 'rule' end,
            case when rfm_segment_map.rfm_segment_id is not null then 'rfm' end,
            membership_changes.segment_family
        ) as segment_family,
        coalesce(
            current_segments.exclusivity_group,
            segment_definitions.exclusivity_group,
            case when rfm_segment_map.rfm_segment_id is not null then 'rfm' end,
            membership_changes.exclusivity_group
        ) as exclusivity_group,
        coalesce(
            current_segments.segment_name,
            segment_definitions.segment_name,
            rfm_segment_map.rfm_segment
        ) as segment_name,
        case when history_runs.has_previous_run then coalesce(membership_changes.entered, 0) end as entered,
        case when history_runs.has_previous_run then coalesce(membership_changes.exited, 0) end as exited,
        case when history_runs.has_previous_run then coalesce(membership_changes.stayed, 0) end as stayed
    from segment_ids
    cross join history_runs
    left join current_segments
        on segment_ids.segment_id = current_segments.segment_id
    left join segment_definitions
        on segment_ids.segment_id = segment_definitions.segment_id
    left join rfm_segment_map
        on segment_ids.segment_id = 'rfm_' || rfm_segment_map.rfm_segment_id
    left join membership_changes
        on segment_ids.segment_id = membership_changes.segment_id

),

final as (

    select
        *,
        stayed + exited as previous_members,
        exited / nullif(stayed + exited, 0) as decay_rate,
        stayed / nullif(stayed + exited + entered, 0) as jaccard_with_previous
    from segments

)

select * from final
