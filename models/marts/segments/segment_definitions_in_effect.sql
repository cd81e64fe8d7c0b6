-- One row per segment of seed segment_definitions: the definition this build uses. Normally
-- the seed row; for a segment named in var segments__version_pins ({segment_id: version}) the
-- stored definition of that version from segment_definition_changes: a rollback without
-- editing the seed (docs/segment_health.md#rollback). A pin naming a segment not in the seed
-- or a version never recorded stops the build. compared_version / compared_rule: the most
-- recently recorded other version of the segment, which segment_version_changes measures the
-- version in effect against. A view: an edited seed takes effect in segment_membership without
-- rebuilding it, while pins are written into it when it is built (build it with the pins).

{{ config(materialized='view') }}

{%- set pins = var('segments__version_pins') %}
{%- if pins is not mapping %}
    {{ exceptions.raise_compiler_error(
        "var segments__version_pins must map segment_id to version, e.g. {win_back: 1}; got " ~ pins
    ) }}
{%- endif %}
{%- if execute and pins %}
    {%- set changes = load_relation(ref('segment_definition_changes')) %}
    {%- set stored = {} %}
    {%- if changes is not none %}
        {%- set stored_query %}
            select
                recorded.segment_id,
                {{ string_agg_ordered('cast(recorded.version as ' ~ dbt.type_string() ~ ')', "', '", 'recorded.version') }} as versions
            from (
                select distinct changes.segment_id, changes.version
                from {{ changes }} as changes
                inner join {{ ref('segment_definitions') }} as seed
                    on changes.segment_id = seed.segment_id
                where changes.change_kind <> 'removed'
            ) as recorded
            group by recorded.segment_id
        {%- endset %}
        {%- for row in run_query(stored_query).rows %}
            {%- do stored.update({row['segment_id']: row['versions'].split(', ')}) %}
        {%- endfor %}
    {%- endif %}
    {%- for segment_id, version in pins.items() %}
        {%- if segment_id not in stored or ((version | int) | string) not in stored[segment_id] %}
            {{ exceptions.raise_compiler_error(
                "segments__version_pins: segment '" ~ segment_id ~ "' version " ~ version ~ " is not recorded"
                ~ " in marts.segment_definition_changes (recorded versions: "
                ~ (stored.get(segment_id, ['none']) | join(', '))
                ~ "); pin a segment of the seed to a version a build has seen."
            ) }}
        {%- endif %}
    {%- endfor %}
{%- endif %}

with

segment_definitions as (

    select * from {{ ref('segment_definitions') }}

),

definition_changes as (

    select * from {{ ref('segment_definition_changes') }}

),

pins as (

    {% if pins -%}
        select * from (
            values
            {%- for segment_id, version in pins.items() %}
                ({{ string_literal(segment_id) }}, {{ version | int }}){% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as pins (segment_id, pinned_version)
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as segment_id,
            cast(null as integer) as pinned_version
        where false
    {%- endif %}

),

-- The last recorded definition of every version of every segment.
stored_versions as (

    select {{ star_except('ranked_changes', ['version_rank']) }}
    from (
        select
            *,
            row_number() over (
                partition by segment_id, version order by detected_at desc
            ) as version_rank
        from definition_changes
        where change_kind <> 'removed'
    ) as ranked_changes
    where ranked_changes.version_rank = 1

),

in_effect as (

    {%- set columns = ['segment_name', 'description', 'owner', 'version', 'rule', 'priority',
        'exclusivity_group', 'min_size', 'is_active', 'is_approved', 'changed_by', 'changed_on'] %}
    select
        stored_versions.segment_id,
        {% for column in columns -%}
            stored_versions.{{ column }},
        {% endfor -%}
        segment_definitions.version as seed_version,
        true as is_pinned
    from stored_versions
    inner join pins
        on
            stored_versions.segment_id = pins.segment_id
            and stored_versions.version = pins.pinned_version
    inner join segment_definitions
        on stored_versions.segment_id = segment_definitions.segment_id

    union all

    select
        segment_id,
        {% for column in columns -%}
            {{ column }},
        {% endfor -%}
        version as seed_version,
        false as is_pinned
    from segment_definitions
    where segment_id not in (select pins.segment_id from pins)

),

compared as (

    select
        segment_id,
        compared_version,
        compared_rule
    from (
        select
            in_effect.segment_id,
            stored_versions.version as compared_version,
            stored_versions.rule as compared_rule,
            row_number() over (
                partition by in_effect.segment_id order by stored_versions.detected_at desc
            ) as recency_rank
        from in_effect
        inner join stored_versions
            on
                in_effect.segment_id = stored_versions.segment_id
                and in_effect.version <> stored_versions.version
    ) as ranked_versions
    where recency_rank = 1

),

final as (

    select
        in_effect.*,
        compared.compared_version,
        compared.compared_rule
    from in_effect
    left join compared
        on in_effect.segment_id = compared.segment_id

)

select * from final
