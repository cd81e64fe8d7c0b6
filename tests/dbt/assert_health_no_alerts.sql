-- The segments with an alert at the current as_of_date (segment_health.alerts), so that a
-- build reports them as a warning for the segments' owners; never a build failure (an alert
-- is a finding about the data, not a broken model).

{{ config(severity='warn') }}

with

segment_health as (

    select * from {{ ref('segment_health') }}
    where as_of_date = {{ as_of_date_sql() }}

),

final as (

    select
        segment_id,
        members,
        previous_members,
        max_overlap_segment_id,
        max_psi_feature,
        alerts
    from segment_health
    where alert_count > 0

)

select * from final
