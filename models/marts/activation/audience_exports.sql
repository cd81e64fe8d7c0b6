-- One row per active audience and customer to send it to as of as_of_date: a current member
-- of the experiment's segment, in the treatment arm, not erased, with consent for the
-- destination's channel, and reachable there (audience_candidates, where the checks live).
-- Published, so no contact data: the ads platforms' unsalted SHA-256 of email and phone (which
-- enumeration reverses) and the email platform's raw email stay unpublished: the publish
-- writes them into the restricted activation file the export command reads (docs/privacy.md).

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
        rfm_segment,
        lifecycle_stage,
        clv_band,
        segment_version,
        as_of_date,
        consent_recorded_at
    from audience_candidates

)

select * from final
