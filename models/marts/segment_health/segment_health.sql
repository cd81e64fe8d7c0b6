-- Health of every segment at each as_of_date: one row per as_of_date and segment. The segments
-- listed and their movement since the previous run (entered / exited / stayed, decay rate,
-- Jaccard index with the previous membership) come from int_segment_health_segments; members'
-- revenue, order value, conversion, CLV and churn from int_segment_health_members; the closest
-- overlap and the largest drift from int_segment_health_signals. Here: size, share, size change,
-- the min_size check and `alerts`, the reason codes of what looks wrong (docs/segment_health.md).
-- Incremental, forward only: features, CLV and churn scores are as of the current run only,
-- so each run's figures are kept here. A rerun at the same date replaces its rows (pre-hook
-- health_rewind); an earlier date stops the build; the history must be built at this date.
-- depends_on: {{ ref('segment_membership_history') }} (read by health_require_history_at_as_of_date)

{{ config(**health_incremental_config()) }}

{%- do health_incremental_guards() %}
{%- set as_of = as_of_date_sql() %}

with

segments as (

    select * from {{ ref('int_segment_health_segments') }}

),

member_metrics as (

    select * from {{ ref('int_segment_health_members') }}

),

signals as (

    select * from {{ ref('int_segment_health_signals') }}

),

segment_health_runs as (

    select * from {{ ref('segment_health_runs') }}
    where as_of_date = {{ as_of }}

),

-- The previous run's rows (names and fallback flags of segments that have since emptied).
previous_health as (

    {% if is_incremental() -%}
        select * from {{ this }}
        where as_of_date = (select segment_health_runs.previous_as_of_date from segment_health_runs)
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as segment_id,
            cast(null as {{ dbt.type_string() }}) as segment_name,
            cast(null as boolean) as is_fallback
        where false
    {%- endif %}

),

measured as (

    select
        segments.segment_id,
        segments.min_size,
        segments.segment_family,
        segments.exclusivity_group,
        coalesce(segments.segment_name, previous_health.segment_name, segments.segment_id) as segment_name,
        coalesce(segments.is_fallback, previous_health.is_fallback, false) as is_fallback,
        signals.max_overlap_jaccard,
        signals.max_overlap_segment_id,
        signals.max_feature_psi,
        signals.max_psi_feature,
        segment_health_runs.previous_as_of_date,
        coalesce(member_metrics.members, 0) as members,
        coalesce(member_metrics.members, 0) / nullif(segment_health_runs.customers, 0) as member_share,
        segments.entered,
        segments.exited,
        segments.stayed,
        segments.previous_members,
        segments.decay_rate,
        segments.jaccard_with_previous,
        cast(coalesce(member_metrics.net_revenue, 0) as decimal(18, 2)) as net_revenue,
        cast(member_metrics.net_revenue as double) / nullif(member_metrics.orders, 0) as avg_order_value,
        member_metrics.converted_members / member_metrics.members as conversion_rate,
        member_metrics.mean_clv,
        member_metrics.mean_churn_probability,
        coalesce(signals.is_high_overlap, false) as is_high_overlap,
        coalesce(signals.is_feature_drift, false) as is_feature_drift,
        {{ as_of }} as as_of_date
    from segments
    cross join segment_health_runs
    left join member_metrics
        on segments.segment_id = member_metrics.segment_id
    left join signals
        on segments.segment_id = signals.segment_id
    left join previous_health
        on segments.segment_id = previous_health.segment_id

),

changes as (

    select
        *,
        (members - previous_members) / nullif(previous_members, 0) as size_change_share
    from measured

),

flagged as (

    select
        *,
        members = 0 and not is_fallback as is_empty,
        coalesce(members < min_size, false) as is_below_min_size,
        coalesce(abs(size_change_share) >= {{ var('health__size_change_alert_share') }}, false) as is_size_jump
    from changes

),

alerted as (

    select
        *,
        cast(
            cast(is_empty as integer)
            + cast(is_below_min_size as integer)
            + cast(is_size_jump as integer)
            + cast(is_high_overlap as integer)
            + cast(is_feature_drift as integer)
            as integer
        ) as alert_count,
        nullif(concat_ws(
            ',',
            case when is_empty then 'empty_segment' end,
            case when is_below_min_size then 'below_min_size' end,
            case when is_size_jump then 'size_jump' end,
            case when is_high_overlap then 'high_overlap' end,
            case when is_feature_drift then 'feature_drift' end
        ), '') as alerts
    from flagged

),

final as (

    select
        segment_id,
        segment_family,
        exclusivity_group,
        segment_name,
        members,
        member_share,
        previous_members,
        entered,
        exited,
        stayed,
        size_change_share,
        decay_rate,
        jaccard_with_previous,
        net_revenue,
        avg_order_value,
        conversion_rate,
        mean_clv,
        mean_churn_probability,
        min_size,
        max_overlap_jaccard,
        max_overlap_segment_id,
        max_feature_psi,
        max_psi_feature,
        alerts,
        alert_count,
        is_fallback,
        is_below_min_size,
        as_of_date,
        previous_as_of_date
    from alerted

)

select * from final
