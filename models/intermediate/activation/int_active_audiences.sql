-- One row per active audience (seed audience_definitions) with its destination (seed
-- audience_destinations): where and how its members are sent. Ephemeral: read only by
-- audience_candidates and audience_summary.

{{ config(materialized='ephemeral') }}

with

audience_definitions as (

    select * from {{ ref('audience_definitions') }}
    where is_active

),

audience_destinations as (

    select * from {{ ref('audience_destinations') }}

),

final as (

    select
        audience_definitions.audience_id,
        audience_definitions.audience_name,
        audience_definitions.experiment_id,
        audience_destinations.destination_id,
        audience_destinations.destination_kind,
        audience_destinations.consent_channel,
        audience_destinations.email_normalization,
        audience_destinations.phone_format
    from audience_definitions
    inner join audience_destinations
        on audience_definitions.destination_id = audience_destinations.destination_id

)

select * from final
