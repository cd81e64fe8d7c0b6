-- Nobody is exported without consent: every row of audience_exports must have the consent
-- channel of its audience's destination (taken from the seeds, not from the row) granted
-- as of as_of_date in int_customer_consents, or no record and a granted default
-- (var segments__consent_default_granted). Rows returned = exported without consent.

with

audience_exports as (

    select * from {{ ref('audience_exports') }}

),

audience_definitions as (

    select * from {{ ref('audience_definitions') }}

),

audience_destinations as (

    select * from {{ ref('audience_destinations') }}

),

consents as (

    select * from {{ ref('int_customer_consents') }}

),

required_channels as (

    select
        audience_exports.audience_id,
        audience_exports.customer_key,
        audience_destinations.consent_channel
    from audience_exports
    left join audience_definitions
        on audience_exports.audience_id = audience_definitions.audience_id
    left join audience_destinations
        on audience_definitions.destination_id = audience_destinations.destination_id

)

select
    required_channels.audience_id,
    required_channels.customer_key,
    required_channels.consent_channel,
    consents.is_granted,
    consents.recorded_at
from required_channels
left join consents
    on
        required_channels.customer_key = consents.customer_key
        and required_channels.consent_channel = consents.channel
where
    required_channels.consent_channel is null
    or not coalesce(consents.is_granted, {{ var('segments__consent_default_granted') }})
