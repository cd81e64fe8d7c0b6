-- The change report of segment versions: one row per active rule segment whose definition
-- in effect has another recorded version (segment_definitions_in_effect.compared_version:
-- the version it replaced, or for a pinned rollback the newer version it replaced). Both
-- rules run on this build's customer_features, so the counts measure the definitions, not
-- how customers moved since an earlier build: members now, members under the compared
-- version, stayed / entered / exited, and moved_share = (entered + exited) / compared members
-- (at least 1). is_large_move when moved_share exceeds var
-- segments__version_change_alert_share; a warning test reports it on every build.

{%- set compared_rules = [] %}
{%- if execute %}
    {%- set in_effect = load_relation(ref('segment_definitions_in_effect')) %}
    {%- set features = load_relation(ref('customer_features')) %}
    {%- if in_effect is not none %}
        {%- set compared_definitions -%}
            (select segment_id, compared_rule as rule, is_active from {{ in_effect }}
            where compared_rule is not null) as compared
        {%- endset %}
        {%- for row in run_query(segment_rule_checks(compared_definitions, features)).rows %}
            {%- if row['problem'] is not none %}
                {{ exceptions.raise_compiler_error(
                    "segment_version_changes: the compared version's rule of segment '" ~ row['segment_id']
                    ~ "' " ~ row['problem'] ~ " (rule: " ~ row['rule'] ~ "). It is recorded in"
                    ~ " marts.segment_definition_changes; pin another version or accept the report's gap."
                ) }}
            {%- endif %}
            {%- do compared_rules.append({'segment_id': row['segment_id'], 'rule': row['rule']}) %}
        {%- endfor %}
    {%- endif %}
{%- endif %}

with

segment_definitions_in_effect as (

    select * from {{ ref('segment_definitions_in_effect') }}
    where is_active and compared_rule is not null

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

current_members as (

    select
        segment_membership.customer_key,
        segment_membership.segment_id
    from segment_membership
    inner join segment_definitions_in_effect
        on segment_membership.segment_id = segment_definitions_in_effect.segment_id

),

compared_members as (

    {{ segment_rule_matches(compared_rules, ref('customer_features')) }}

),

paired as (

    select
        coalesce(current_members.segment_id, compared_members.segment_id) as segment_id,
        current_members.customer_key is not null as is_member,
        compared_members.customer_key is not null as was_member
    from current_members
    full outer join compared_members
        on
            current_members.segment_id = compared_members.segment_id
            and current_members.customer_key = compared_members.customer_key

),

counts as (

    select
        segment_id,
        count(*) filter (where is_member) as members,
        count(*) filter (where was_member) as compared_members,
        count(*) filter (where is_member and was_member) as stayed,
        count(*) filter (where is_member and not was_member) as entered,
        count(*) filter (where was_member and not is_member) as exited
    from paired
    group by segment_id

),

measured as (

    select
        segment_definitions_in_effect.segment_id,
        segment_definitions_in_effect.version,
        segment_definitions_in_effect.compared_version,
        segment_definitions_in_effect.is_pinned,
        coalesce(counts.members, 0) as members,
        coalesce(counts.compared_members, 0) as compared_members,
        coalesce(counts.stayed, 0) as stayed,
        coalesce(counts.entered, 0) as entered,
        coalesce(counts.exited, 0) as exited
    from segment_definitions_in_effect
    left join counts
        on segment_definitions_in_effect.segment_id = counts.segment_id

),

final as (

    select
        *,
        cast(entered + exited as double) / greatest(compared_members, 1) as moved_share,
        cast({{ var('segments__version_change_alert_share') }} as double) as alert_share,
        cast(entered + exited as double) / greatest(compared_members, 1)
        > {{ var('segments__version_change_alert_share') }} as is_large_move,
        {{ as_of_date_sql() }} as as_of_date
    from measured

)

select * from final
