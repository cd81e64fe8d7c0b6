-- Entries into and exits from segments over successive builds: one row per spell of a customer
-- in a segment (segment_membership), dated by as_of_date, not by the wall clock. valid_from =
-- the as_of_date of the first build that had the membership; valid_to = the first build that
-- no longer had it (exclusive; null while current); last_seen_on = the last build that had it
-- (an exit happened between last_seen_on and valid_to).
-- Incremental, forward only: each build reads the open spells, extends the ones still true,
-- closes the others and opens new ones. A rerun at the same as_of_date first undoes the
-- earlier run at that date (pre-hook segment_membership_history_rewind), so reruns are
-- idempotent; an as_of_date earlier than the history stops the build (rebuild with
-- --full-refresh and replay the dates in order). Erased customers' spells are deleted. When
-- a merge retires a customer_key, its spells move to the key that carries on the customer
-- (customer_key_successors; pre-hook segment_membership_history_follow_keys), joined with
-- that key's own spells where they overlap: the merged customer keeps its history.
-- segment_version is the rule version the member qualified under
-- (segment_membership.segment_version; null for other families): a new or pinned version
-- closes the spells of the old one and opens spells under the new one, so every spell names
-- one version. Warehouses built before the column existed get it appended (null on old rows).
-- depends_on: {{ ref('customer_key_successors') }}

{{ config(
    materialized='incremental',
    unique_key=['customer_key', 'segment_id', 'valid_from'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook=[
        "{{ segment_membership_history_rewind() }}",
        "{{ segment_membership_history_follow_keys() }}",
    ],
    post_hook="{{ history_retention_delete('valid_to', 'retention__membership_history_days') }}",
) }}

{%- set as_of = as_of_date_sql() %}

{%- if execute and is_incremental() %}
    {%- set recorded = run_query(
        'select cast(max(greatest(last_seen_on, coalesce(valid_to, last_seen_on))) as ' ~ dbt.type_string() ~ ') from ' ~ this
    ) %}
    {%- set recorded_through = recorded.columns[0].values()[0] %}
    {%- if recorded_through is not none and recorded_through > as_of_date() %}
        {{ exceptions.raise_compiler_error(
            "segment_membership_history is recorded through " ~ recorded_through ~ "; as_of_date "
            ~ as_of_date() ~ " is earlier. History only moves forward: build the dates in order, "
            ~ "or rebuild it with --full-refresh and replay them."
        ) }}
    {%- endif %}
{%- endif %}

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

-- The spells open before this as_of_date (the pre-hook has undone any earlier run at it);
-- none on the first run.
open_spells as (

    {% if is_incremental() -%}
        select * from {{ this }}
        where valid_to is null
    {%- else -%}
        select
            customer_key,
            segment_id,
            segment_family,
            exclusivity_group,
            segment_version,
            cast(null as date) as valid_from,
            cast(null as date) as valid_to,
            cast(null as date) as last_seen_on
        from segment_membership
        where false
    {%- endif %}

),

current_spells as (

    select
        segment_membership.customer_key,
        segment_membership.segment_id,
        segment_membership.segment_family,
        segment_membership.exclusivity_group,
        segment_membership.segment_version,
        coalesce(open_spells.valid_from, {{ as_of }}) as valid_from,
        cast(null as date) as valid_to,
        {{ as_of }} as last_seen_on
    from segment_membership
    left join open_spells
        on
            segment_membership.customer_key = open_spells.customer_key
            and segment_membership.segment_id = open_spells.segment_id
            and segment_membership.segment_version is not distinct from open_spells.segment_version

),

ended_spells as (

    select
        open_spells.customer_key,
        open_spells.segment_id,
        open_spells.segment_family,
        open_spells.exclusivity_group,
        open_spells.segment_version,
        open_spells.valid_from,
        {{ as_of }} as valid_to,
        open_spells.last_seen_on
    from open_spells
    where
        not exists (
            select 1
            from segment_membership
            where
                segment_membership.customer_key = open_spells.customer_key
                and segment_membership.segment_id = open_spells.segment_id
                and segment_membership.segment_version is not distinct from open_spells.segment_version
        )
        and open_spells.customer_key not in (
            select erased_customer_keys.customer_key from erased_customer_keys
        )

),

final as (

    select * from current_spells
    union all
    select * from ended_spells

)

select * from final
