-- Health of every segment at each as_of_date: one row per as_of_date and segment. Size and
-- share of customers; entered / exited / stayed since the previous run, decay rate and the
-- Jaccard index of the membership with the previous run's (stability), all read from
-- segment_membership_history; members' revenue, average order value and conversion rate
-- (customer_features), mean CLV (customer_clv) and churn probability (customer_churn_scores);
-- the minimum-size check of the rule's definition; and `alerts`, the reason codes of what
-- looks wrong (see _segment_health__models.yml and docs/segment_health.md).
-- Segments listed: those with members now or at the previous run, every active rule of seed
-- segment_definitions and every RFM segment of seed rfm_segment_map, so an emptied segment
-- shows up with 0 members instead of disappearing.
-- Incremental, forward only: customer features, CLV and churn scores are as of the current
-- run only, so each run's figures are kept here. A rerun at the same as_of_date replaces its
-- rows (pre-hook health_rewind); an earlier date stops the build; the history must have been
-- built at this as_of_date.

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ health_rewind() }}",
) }}

{%- do health_refuse_earlier_as_of_date() %}
{%- do health_require_history_at_as_of_date() %}
{%- set conversion_days = var('health__conversion_window_days') | int %}
{%- if conversion_days not in var('features__order_windows_days') | map('int') | list %}
    {{ exceptions.raise_compiler_error(
        "var health__conversion_window_days (" ~ conversion_days ~ ") must be one of "
        ~ "features__order_windows_days " ~ var('features__order_windows_days')
        ~ ": conversion is read from customer_features.orders_<n>d."
    ) }}
{%- endif %}
{%- set as_of = as_of_date_sql() %}

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

segment_membership_history as (

    select * from {{ ref('segment_membership_history') }}

),

segment_definitions as (

    select * from {{ ref('segment_definitions') }}
    where is_active

),

rfm_segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

customer_features as (

    select * from {{ ref('customer_features') }}

),

customer_clv as (

    select * from {{ ref('customer_clv') }}

),

customer_churn_scores as (

    select * from {{ ref('customer_churn_scores') }}

),

segment_overlap as (

    select * from {{ ref('segment_overlap') }}

),

segment_feature_drift as (

    select * from {{ ref('segment_feature_drift') }}
    where as_of_date = {{ as_of }}

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
            cast(null as varchar) as segment_id,
            cast(null as varchar) as segment_family,
            cast(null as varchar) as exclusivity_group,
            cast(null as varchar) as segment_name,
            cast(null as boolean) as is_fallback,
            cast(null as date) as as_of_date
        where false
    {%- endif %}

),

-- This run's changes, per segment: spells opened at as_of_date (entered), closed at it
-- (exited), or opened earlier and still open (stayed). The previous run's members are the
-- exited and the stayed.
membership_changes as (

    select
        segment_id,
        any_value(segment_family) as segment_family,
        any_value(exclusivity_group) as exclusivity_group,
        count(*) filter (where valid_from = {{ as_of }}) as entered,
        count(*) filter (where valid_to = {{ as_of }}) as exited,
        count(*) filter (where valid_from < {{ as_of }} and valid_to is null) as stayed
    from segment_membership_history
    where valid_to is null or valid_to = {{ as_of }}
    group by segment_id

),

-- The history holds an earlier run (any spell that began before this as_of_date).
history_runs as (

    select count(*) filter (where valid_from < {{ as_of }}) > 0 as has_previous_run
    from segment_membership_history

),

current_segments as (

    select
        segment_id,
        any_value(segment_family) as segment_family,
        any_value(exclusivity_group) as exclusivity_group,
        any_value(segment_name) as segment_name,
        bool_or(is_fallback) as is_fallback
    from segment_membership
    group by segment_id

),

segment_ids as (

    select segment_id from current_segments
    union
    select segment_id from segment_definitions
    union
    select 'rfm_' || rfm_segment_id as segment_id from rfm_segment_map
    union
    select segment_id from membership_changes
    where exited > 0 or stayed > 0

),

segments as (

    select
        segment_ids.segment_id,
        segment_definitions.min_size,
        coalesce(
            current_segments.segment_family,
            case when segment_definitions.segment_id is not null then 'rule' end,
            case when rfm_segment_map.rfm_segment_id is not null then 'rfm' end,
            membership_changes.segment_family
        ) as segment_family,
        coalesce(
            current_segments.exclusivity_group,
            segment_definitions.exclusivity_group,
            case when rfm_segment_map.rfm_segment_id is not null then 'rfm' end,
            membership_changes.exclusivity_group
        ) as exclusivity_group,
        coalesce(
            current_segments.segment_name,
            segment_definitions.segment_name,
            rfm_segment_map.rfm_segment,
            previous_health.segment_name,
            segment_ids.segment_id
        ) as segment_name,
        coalesce(current_segments.is_fallback, previous_health.is_fallback, false) as is_fallback
    from segment_ids
    left join current_segments
        on segment_ids.segment_id = current_segments.segment_id
    left join segment_definitions
        on segment_ids.segment_id = segment_definitions.segment_id
    left join rfm_segment_map
        on segment_ids.segment_id = 'rfm_' || rfm_segment_map.rfm_segment_id
    left join membership_changes
        on segment_ids.segment_id = membership_changes.segment_id
    left join previous_health
        on segment_ids.segment_id = previous_health.segment_id

),

population as (

    select count(*) as customers from customer_features

),

member_metrics as (

    select
        segment_membership.segment_id,
        count(*) as members,
        sum(customer_features.net_revenue) as net_revenue,
        sum(customer_features.order_count) as orders,
        count(*) filter (where customer_features.orders_{{ conversion_days }}d > 0) as converted_members,
        avg(customer_clv.clv) as mean_clv,
        avg(customer_churn_scores.churn_probability) as mean_churn_probability
    from segment_membership
    inner join customer_features
        on segment_membership.customer_key = customer_features.customer_key
    left join customer_clv
        on segment_membership.customer_key = customer_clv.customer_key
    left join customer_churn_scores
        on segment_membership.customer_key = customer_churn_scores.customer_key
    group by segment_membership.segment_id

),

-- The closest judged neighbour (segment_overlap.is_judged pairs) by Jaccard index.
closest_overlaps as (

    select
        segment_id,
        max(jaccard_index) as max_overlap_jaccard,
        arg_max(other_segment_id, jaccard_index) as max_overlap_segment_id,
        bool_or(is_high_overlap) as is_high_overlap
    from segment_overlap
    where is_judged
    group by segment_id

),

feature_drifts as (

    select
        segment_id,
        max(population_stability_index) as max_feature_psi,
        arg_max(feature, population_stability_index) as max_psi_feature,
        bool_or(is_drift_alert) as is_feature_drift
    from segment_feature_drift
    group by segment_id

),

measured as (

    select
        segments.*,
        closest_overlaps.max_overlap_jaccard,
        closest_overlaps.max_overlap_segment_id,
        feature_drifts.max_feature_psi,
        feature_drifts.max_psi_feature,
        segment_health_runs.previous_as_of_date,
        coalesce(member_metrics.members, 0) as members,
        coalesce(member_metrics.members, 0) / nullif(population.customers, 0) as member_share,
        case when history_runs.has_previous_run then coalesce(membership_changes.entered, 0) end as entered,
        case when history_runs.has_previous_run then coalesce(membership_changes.exited, 0) end as exited,
        case when history_runs.has_previous_run then coalesce(membership_changes.stayed, 0) end as stayed,
        cast(coalesce(member_metrics.net_revenue, 0) as decimal(18, 2)) as net_revenue,
        cast(member_metrics.net_revenue as double) / nullif(member_metrics.orders, 0) as avg_order_value,
        member_metrics.converted_members / member_metrics.members as conversion_rate,
        member_metrics.mean_clv,
        member_metrics.mean_churn_probability,
        coalesce(closest_overlaps.is_high_overlap, false) as is_high_overlap,
        coalesce(feature_drifts.is_feature_drift, false) as is_feature_drift,
        {{ as_of }} as as_of_date
    from segments
    cross join population
    cross join history_runs
    cross join segment_health_runs
    left join member_metrics
        on segments.segment_id = member_metrics.segment_id
    left join membership_changes
        on segments.segment_id = membership_changes.segment_id
    left join closest_overlaps
        on segments.segment_id = closest_overlaps.segment_id
    left join feature_drifts
        on segments.segment_id = feature_drifts.segment_id

),

changes as (

    select
        *,
        stayed + exited as previous_members,
        (members - (stayed + exited)) / nullif(stayed + exited, 0) as size_change_share,
        exited / nullif(stayed + exited, 0) as decay_rate,
        stayed / nullif(stayed + exited + entered, 0) as jaccard_with_previous
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
