-- One row per active audience (seed audience_definitions, active experiment): may it be
-- activated? Its segment's definition in effect (segment_definitions_in_effect; rule
-- segments only, other families have no floor or approval) sets min_size and is_approved.
-- Blocked, first reason wins:
--   not_approved    the version in effect is not approved (segment_definitions.is_approved);
--   below_min_size  fewer members pass every check (audience_candidates.is_exported) than
--                   the segment's min_size: ad platforms refuse or cannot match small lists.
-- audience_summary reports the reason and counts 0 exported rows for a blocked audience;
-- audience_exports omits its rows.

with

audience_definitions as (

    select * from {{ ref('audience_definitions') }}
    where is_active

),

experiments as (

    select * from {{ ref('experiments') }}
    where is_active

),

segment_definitions_in_effect as (

    select * from {{ ref('segment_definitions_in_effect') }}

),

audience_candidates as (

    select * from {{ ref('audience_candidates') }}

),

eligible as (

    select
        audience_id,
        count(*) filter (where is_exported) as eligible_count
    from audience_candidates
    group by audience_id

),

gated as (

    select
        audience_definitions.audience_id,
        experiments.segment_id,
        segment_definitions_in_effect.version as segment_version,
        segment_definitions_in_effect.min_size,
        segment_definitions_in_effect.is_approved,
        coalesce(eligible.eligible_count, 0) as eligible_count,
        case
            when not segment_definitions_in_effect.is_approved then 'not_approved'
            when coalesce(eligible.eligible_count, 0) < segment_definitions_in_effect.min_size
                then 'below_min_size'
        end as activation_block_reason
    from audience_definitions
    inner join experiments
        on audience_definitions.experiment_id = experiments.experiment_id
    left join segment_definitions_in_effect
        on experiments.segment_id = segment_definitions_in_effect.segment_id
    left join eligible
        on audience_definitions.audience_id = eligible.audience_id

),

final as (

    select
        audience_id,
        segment_id,
        segment_version,
        min_size,
        is_approved,
        eligible_count,
        activation_block_reason is not null as is_activation_blocked,
        activation_block_reason,
        case activation_block_reason
            when 'not_approved'
                then
                    'segment ' || segment_id || ' version ' || segment_version
                    || ' is not approved for activation (segment_definitions.is_approved)'
            when 'below_min_size'
                then
                    eligible_count || ' exportable members, below min_size ' || min_size
                    || ' of segment ' || segment_id || ' version ' || segment_version
        end as activation_block_detail,
        {{ as_of_date_sql() }} as as_of_date
    from gated

)

select * from final
