-- One row per active audience (and active experiment): who its segment holds today and where each member stopped
-- (audience_candidates' first failing check), ending with the rows exported. An audience
-- whose segment is empty has a row of zeros, so the export still writes an empty file.

with

audience_definitions as (

    select * from {{ ref('audience_definitions') }}
    where is_active

),

audience_destinations as (

    select * from {{ ref('audience_destinations') }}

),

experiments as (

    select * from {{ ref('experiments') }}
    where is_active

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

audience_candidates as (

    select * from {{ ref('audience_candidates') }}

),

segment_versions as (

    select
        segment_id,
        max(segment_version) as segment_version
    from segment_membership
    group by segment_id

),

counts as (

    select
        audience_id,
        count(*) as member_count,
        count(*) filter (where exclusion_reason = 'control') as control_count,
        count(*) filter (where exclusion_reason = 'erased') as erased_count,
        count(*) filter (where exclusion_reason = 'no_consent') as no_consent_count,
        count(*) filter (where exclusion_reason = 'no_contact') as no_contact_count,
        count(*) filter (where is_exported) as exported_count
    from audience_candidates
    group by audience_id

),

final as (

    select
        audience_definitions.audience_id,
        audience_definitions.audience_name,
        audience_definitions.experiment_id,
        experiments.segment_id,
        audience_definitions.destination_id,
        audience_destinations.destination_kind,
        audience_destinations.consent_channel,
        segment_versions.segment_version,
        experiments.holdout_share,
        coalesce(counts.member_count, 0) as member_count,
        coalesce(counts.control_count, 0) as control_count,
        coalesce(counts.erased_count, 0) as erased_count,
        coalesce(counts.no_consent_count, 0) as no_consent_count,
        coalesce(counts.no_contact_count, 0) as no_contact_count,
        coalesce(counts.exported_count, 0) as exported_count,
        {{ as_of_date_sql() }} as as_of_date
    from audience_definitions
    inner join audience_destinations
        on audience_definitions.destination_id = audience_destinations.destination_id
    inner join experiments
        on audience_definitions.experiment_id = experiments.experiment_id
    left join segment_versions
        on experiments.segment_id = segment_versions.segment_id
    left join counts
        on audience_definitions.audience_id = counts.audience_id

)

select * from final
