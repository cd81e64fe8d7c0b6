-- One row per active audience (and active experiment): who its segment holds today and where each member stopped
-- (audience_candidates' first failing check), ending with the rows exported. An audience
-- whose segment is empty has a row of zeros, so the export still writes an empty file.
-- Governance (audience_activation_gates): an audience whose segment version is not approved
-- or whose eligible members (passing every check) fall below the segment's min_size is
-- blocked: is_activation_blocked with the reason, and exported_count 0 (audience_exports
-- holds none of its rows).

with

audiences as (

    select * from {{ ref('int_active_audiences') }}

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

audience_activation_gates as (

    select * from {{ ref('audience_activation_gates') }}

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
        audiences.audience_id,
        audiences.audience_name,
        audiences.experiment_id,
        experiments.segment_id,
        audiences.destination_id,
        audiences.destination_kind,
        audiences.consent_channel,
        segment_versions.segment_version,
        experiments.holdout_share,
        coalesce(counts.member_count, 0) as member_count,
        coalesce(counts.control_count, 0) as control_count,
        coalesce(counts.erased_count, 0) as erased_count,
        coalesce(counts.no_consent_count, 0) as no_consent_count,
        coalesce(counts.no_contact_count, 0) as no_contact_count,
        case
            when audience_activation_gates.is_activation_blocked then 0
            else coalesce(counts.exported_count, 0)
        end as exported_count,
        coalesce(counts.exported_count, 0) as eligible_count,
        audience_activation_gates.min_size,
        audience_activation_gates.is_approved,
        audience_activation_gates.is_activation_blocked,
        audience_activation_gates.activation_block_reason,
        audience_activation_gates.activation_block_detail,
        {{ as_of_date_sql() }} as as_of_date
    from audiences
    inner join experiments
        on audiences.experiment_id = experiments.experiment_id
    left join segment_versions
        on experiments.segment_id = segment_versions.segment_id
    left join counts
        on audiences.audience_id = counts.audience_id
    inner join audience_activation_gates
        on audiences.audience_id = audience_activation_gates.audience_id

)

select * from final
