-- The change log of seed segment_definitions: one row per change of a segment's definition,
-- found by comparing the seed with the last recorded state of each segment (this table's
-- latest row per segment_id). created / restored (back after a removal) / new_version /
-- rolled_back (a lower version than recorded) / activated / deactivated / edited (same
-- version, other columns) / removed (the row left the seed). Each row holds the full
-- definition after the change, changed_columns and the previous version and rule; who and
-- when come from the seed row (changed_by, changed_on), detected_on is the build's as_of_date.
-- So the table is also the store of every version's rule (segment_definitions_in_effect reads
-- it for rollbacks). Append-only and kept by --full-refresh (full_refresh=false): a rebuild
-- compares with the stored log instead of forgetting it. A stored version whose rule the seed
-- now changes stops the build: a new rule is a new version.

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
) }}

{%- if execute and is_incremental() %}
    {%- set edited_query %}
        select segment_id, version, stored_rule, rule
        from (
            select
                seed.segment_id, seed.version, stored.rule as stored_rule, seed.rule,
                row_number() over (partition by seed.segment_id order by stored.detected_at desc) as edit_rank
            from {{ ref('segment_definitions') }} as seed
            inner join {{ this }} as stored
                on seed.segment_id = stored.segment_id and seed.version = stored.version
            where stored.change_kind <> 'removed' and seed.rule <> stored.rule
        ) as edits
        where edit_rank = 1
        order by segment_id
    {%- endset %}
    {%- for row in run_query(edited_query).rows %}
        {{ exceptions.raise_compiler_error(
            "segment_definitions: segment '" ~ row['segment_id'] ~ "' version " ~ row['version']
            ~ " is recorded with rule `" ~ row['stored_rule'] ~ "` but the seed now says `" ~ row['rule']
            ~ "`. A changed rule is a new version: raise `version` (and set changed_by / changed_on),"
            ~ " or restore the recorded rule. History: marts.segment_definition_changes."
        ) }}
    {%- endfor %}
{%- endif %}

{%- set compared = ['version', 'rule', 'segment_name', 'description', 'owner', 'priority',
    'exclusivity_group', 'min_size', 'is_active', 'is_approved'] %}

with

segment_definitions as (

    select * from {{ ref('segment_definitions') }}

),

current_state as (

    select
        segment_id,
        version,
        rule,
        segment_name,
        description,
        owner,
        priority,
        exclusivity_group,
        min_size,
        is_active,
        is_approved,
        changed_by,
        changed_on
    from segment_definitions

),

-- The last recorded row of every segment (none on the first build).
recorded as (

    {% if is_incremental() -%}
        select {{ star_except('ranked_rows', ['recorded_rank']) }}
        from (
            select
                *,
                row_number() over (partition by segment_id order by detected_at desc) as recorded_rank
            from {{ this }}
        ) as ranked_rows
        where ranked_rows.recorded_rank = 1
    {%- else -%}
        select
            current_state.*,
            cast(null as {{ dbt.type_string() }}) as change_kind
        from current_state
        where false
    {%- endif %}

),

compared as (

    select
        coalesce(current_state.segment_id, recorded.segment_id) as segment_id,
        case
            when current_state.segment_id is null then 'removed'
            when recorded.segment_id is null then 'created'
            when recorded.change_kind = 'removed' then 'restored'
            when current_state.version > recorded.version then 'new_version'
            when current_state.version < recorded.version then 'rolled_back'
            when current_state.is_active and not recorded.is_active then 'activated'
            when not current_state.is_active and recorded.is_active then 'deactivated'
            else 'edited'
        end as change_kind,
        nullif(
            concat_ws(
                ',',
                {% for column in compared -%}
                    case
                        when current_state.{{ column }} is distinct from recorded.{{ column }}
                            then '{{ column }}'
                    end{% if not loop.last %},{% endif %}
                {% endfor %}
            ),
            ''
        ) as changed_columns,
        recorded.version as previous_version,
        recorded.rule as previous_rule,
        recorded.change_kind as previous_change_kind,
        current_state.segment_id is null as is_removed,
        {% for column in compared -%}
            case
                when current_state.segment_id is null then recorded.{{ column }}
                else current_state.{{ column }}
            end as {{ column }},
        {% endfor -%}
        current_state.changed_by,
        current_state.changed_on
    from current_state
    full outer join recorded
        on current_state.segment_id = recorded.segment_id

),

changes as (

    select * from compared
    where
        (is_removed and previous_change_kind <> 'removed')
        or (not is_removed and (changed_columns is not null or previous_change_kind = 'removed'))

),

final as (

    select
        segment_id,
        change_kind,
        {% for column in compared -%}
            {{ column }},
        {% endfor -%}
        previous_version,
        previous_rule,
        changed_columns,
        changed_by,
        changed_on,
        {{ as_of_date_sql() }} as detected_on,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as detected_at
    from changes

)

select * from final
