-- One row per active audience and customer to send it to as of as_of_date: a current member
-- of the experiment's segment, in the treatment arm, not erased, with consent for the
-- destination's channel, and reachable there (audience_candidates, where the checks live).
-- No raw PII: ads destinations get SHA-256 hashes of the email and phone normalised by the
-- destination's rules; email-platform rows carry customer_key and attributes, and the export
-- command (segwarehouse export) joins the email from the unpublished audience_candidates.

with

audience_candidates as (

    select * from {{ ref('audience_candidates') }}
    where is_exported

),

final as (

    select
        audience_id,
        customer_key,
        experiment_id,
        segment_id,
        destination_id,
        destination_kind,
        consent_channel,
        email_sha256,
        phone_sha256,
        rfm_segment,
        lifecycle_stage,
        clv_band,
        segment_version,
        as_of_date,
        consent_recorded_at
    from audience_candidates

)

select * from final
