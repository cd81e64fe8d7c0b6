-- One row per active audience (seed audience_definitions) and member of its experiment's
-- segment (experiment_assignments), with every eligibility check and the first that fails:
--   control     in the experiment's holdout (never sent, on any destination);
--   erased      named by an erasure request (int_identity_erased_customer_keys);
--   no_consent  the destination's consent channel not granted as of as_of_date: the latest
--               change wins (int_customer_consents), no record = var
--               segments__consent_default_granted;
--   no_contact  nothing the destination can use (ads: no email or E.164 phone; email
--               platform: no email).
-- Rows without a reason are exported (audience_exports). Holds the raw email of exported
-- email-platform rows, which that platform needs to send: built into the unpublished
-- schema `activation` (like intermediate, never copied to the serving file); ads rows carry
-- only SHA-256 hashes, normalised by the destination's rules (macros/activation). RFM labels
-- and CLV bands: int_activation_customer_labels.

with

active_audiences as (

    select * from {{ ref('int_active_audiences') }}

),

experiment_assignments as (

    select * from {{ ref('experiment_assignments') }}

),

consents as (

    select * from {{ ref('int_customer_consents') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

golden_records as (

    select * from {{ ref('int_customer_golden_records') }}

),

customer_labels as (

    select * from {{ ref('int_activation_customer_labels') }}

),

audiences as (

    select
        audience_id,
        experiment_id,
        destination_id,
        destination_kind,
        consent_channel,
        email_normalization,
        phone_format
    from active_audiences

),

members as (

    select
        audiences.*,
        experiment_assignments.customer_key,
        experiment_assignments.segment_id,
        experiment_assignments.arm,
        experiment_assignments.segment_version,
        experiment_assignments.is_control,
        experiment_assignments.as_of_date
    from audiences
    inner join experiment_assignments
        on audiences.experiment_id = experiment_assignments.experiment_id

),

checked as (

    select
        members.*,
        erased_customer_keys.customer_key is not null as is_erased,
        coalesce(consents.is_granted, {{ var('segments__consent_default_granted') }})
            as has_consent,
        consents.recorded_at as consent_recorded_at,
        case
            when erased_customer_keys.customer_key is null then golden_records.email
        end as email,
        case
            when erased_customer_keys.customer_key is null then golden_records.phone
        end as phone
    from members
    left join erased_customer_keys
        on members.customer_key = erased_customer_keys.customer_key
    left join consents
        on
            members.customer_key = consents.customer_key
            and members.consent_channel = consents.channel
    left join golden_records
        on members.customer_key = golden_records.customer_key

),

identifiers as (

    select
        checked.*,
        case
            when checked.destination_kind = 'ads_customer_match'
                then {{ sha256_hex(ads_email_normalized('checked.email', 'checked.email_normalization')) }}
        end as email_sha256,
        case
            when checked.destination_kind = 'ads_customer_match'
                then {{ sha256_hex(ads_phone_normalized('checked.phone', 'checked.phone_format')) }}
        end as phone_sha256
    from checked

),

reasons as (

    select
        *,
        case
            when is_control then 'control'
            when is_erased then 'erased'
            when not has_consent then 'no_consent'
            when destination_kind = 'ads_customer_match' and email_sha256 is null and phone_sha256 is null
                then 'no_contact'
            when destination_kind = 'email_platform' and email is null then 'no_contact'
        end as exclusion_reason
    from identifiers

),

masked as (

    select
        {{ star_except('reasons', ['email', 'email_sha256', 'phone_sha256']) }},
        reasons.exclusion_reason is null as is_exported,
        case
            when reasons.exclusion_reason is null and reasons.destination_kind = 'email_platform'
                then reasons.email
        end as email,
        case when reasons.exclusion_reason is null then reasons.email_sha256 end as email_sha256,
        case when reasons.exclusion_reason is null then reasons.phone_sha256 end as phone_sha256
    from reasons

),

final as (

    select
        masked.audience_id,
        masked.customer_key,
        masked.experiment_id,
        masked.segment_id,
        masked.destination_id,
        masked.destination_kind,
        masked.consent_channel,
        masked.arm,
        masked.exclusion_reason,
        masked.email,
        masked.email_sha256,
        masked.phone_sha256,
        customer_labels.rfm_segment,
        customer_labels.lifecycle_stage,
        masked.segment_version,
        masked.is_control,
        masked.is_erased,
        masked.has_consent,
        masked.is_exported,
        masked.as_of_date,
        masked.consent_recorded_at,
        coalesce(customer_labels.clv_band, 'unscored') as clv_band
    from masked
    left join customer_labels
        on masked.customer_key = customer_labels.customer_key

)

select * from final
