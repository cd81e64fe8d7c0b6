-- One row per active audience and customer to send it to as of as_of_date: a current member
-- of the experiment's segment, in the treatment arm, not erased, with consent for the
-- destination's channel, and reachable there (audience_candidates, where the checks live).
-- Published, so no contact data: the ads platforms' unsalted SHA-256 of email and phone (which
-- enumeration reverses) and the email platform's raw email stay unpublished: the publish
-- writes them into the restricted activation file the export command reads (docs/privacy.md).
-- Audiences blocked by governance (audience_activation_gates: segment version not approved,
-- or fewer eligible members than its min_size) have no rows here.

with

audience_candidates as (

    select * from {{ ref('audience_candidates') }}
    where is_exported

),

audience_activation_gates as (

    select * from {{ ref('audience_activation_gates') }}
    where not is_activation_blocked

),

final as (

    select
        audience_candidates.audience_id,
        audience_candidates.customer_key,
        audience_candidates.experiment_id,
        audience_candidates.segment_id,
        audience_candidates.destination_id,
        audience_candidates.destination_kind,
        audience_candidates.consent_channel,
        audience_candidates.rfm_segment,
        audience_candidates.lifecycle_stage,
        audience_candidates.clv_band,
        audience_candidates.segment_version,
        audience_candidates.as_of_date,
        audience_candidates.consent_recorded_at
    from audience_candidates
    inner join audience_activation_gates
        on audience_candidates.audience_id = audience_activation_gates.audience_id

)

select * from final
