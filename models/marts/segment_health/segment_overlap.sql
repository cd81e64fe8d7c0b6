-- Pairwise overlap of the segments that have members at as_of_date (segment_membership): one
-- row per ordered pair (segment, other segment), so each row reads "of this segment's members,
-- this share is also in the other". Pairs without shared members are listed too (a complete
-- matrix). is_high_overlap flags near-duplicate audiences (Jaccard index at or above var
-- health__overlap_alert_share) among the pairs that are judged: neither a fallback, at least
-- one of a family in var health__overlap_alert_families, not in seed
-- health_overlap_allowlist. segment_health turns it into the `high_overlap` alert.
-- Rebuilt each run (the current as_of_date only); the alert's history is in segment_health.

{%- set alert_families -%}
{%- for family in var('health__overlap_alert_families') -%}
{{ sql_string_literal(family) }}{% if not loop.last %}, {% endif %}
{%- else -%}
''
{%- endfor -%}
{%- endset %}

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

health_overlap_allowlist as (

    select * from {{ ref('health_overlap_allowlist') }}

),

segment_sizes as (

    select
        segment_id,
        any_value(segment_family) as segment_family,
        any_value(exclusivity_group) as exclusivity_group,
        bool_or(is_fallback) as is_fallback,
        count(*) as members
    from segment_membership
    group by segment_id

),

-- Each unordered pair once (segment_id < other_segment_id): one row per customer and pair.
shared_counts as (

    select
        memberships.segment_id,
        other_memberships.segment_id as other_segment_id,
        count(*) as shared_members
    from segment_membership as memberships
    inner join segment_membership as other_memberships
        on
            memberships.customer_key = other_memberships.customer_key
            and memberships.segment_id < other_memberships.segment_id
    group by memberships.segment_id, other_memberships.segment_id

),

shared_both_ways as (

    select
        segment_id,
        other_segment_id,
        shared_members
    from shared_counts
    union all
    select
        other_segment_id as segment_id,
        segment_id as other_segment_id,
        shared_members
    from shared_counts

),

pairs as (

    select
        segments.segment_id,
        other_segments.segment_id as other_segment_id,
        segments.segment_family,
        other_segments.segment_family as other_segment_family,
        segments.exclusivity_group,
        other_segments.exclusivity_group as other_exclusivity_group,
        segments.members,
        other_segments.members as other_members,
        coalesce(shared_both_ways.shared_members, 0) as shared_members,
        segments.is_fallback or other_segments.is_fallback as has_fallback,
        (
            segments.segment_family in ({{ alert_families }})
            or other_segments.segment_family in ({{ alert_families }})
        ) as has_alert_family
    from segment_sizes as segments
    inner join segment_sizes as other_segments
        on segments.segment_id <> other_segments.segment_id
    left join shared_both_ways
        on
            segments.segment_id = shared_both_ways.segment_id
            and other_segments.segment_id = shared_both_ways.other_segment_id

),

allowlisted_pairs as (

    select
        segment_id,
        other_segment_id
    from health_overlap_allowlist
    union
    select
        other_segment_id as segment_id,
        segment_id as other_segment_id
    from health_overlap_allowlist

),

measured as (

    select
        pairs.*,
        pairs.shared_members / pairs.members as share_of_members,
        pairs.shared_members / (pairs.members + pairs.other_members - pairs.shared_members) as jaccard_index,
        allowlisted_pairs.segment_id is not null as is_allowlisted
    from pairs
    left join allowlisted_pairs
        on
            pairs.segment_id = allowlisted_pairs.segment_id
            and pairs.other_segment_id = allowlisted_pairs.other_segment_id

),

final as (

    select
        segment_id,
        other_segment_id,
        segment_family,
        other_segment_family,
        exclusivity_group,
        other_exclusivity_group,
        members,
        other_members,
        shared_members,
        share_of_members,
        jaccard_index,
        is_allowlisted,
        has_alert_family and not has_fallback and not is_allowlisted as is_judged,
        has_alert_family
        and not has_fallback
        and not is_allowlisted
        and jaccard_index >= {{ var('health__overlap_alert_share') }} as is_high_overlap,
        {{ as_of_date_sql() }} as as_of_date
    from measured

)

select * from final
