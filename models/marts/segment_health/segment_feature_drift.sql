-- Feature drift per segment between consecutive runs: one row per as_of_date (from the second
-- recorded run on), segment and feature with the population stability index of the feature's
-- bin shares (segment_feature_bins) against the previous as_of_date:
--   PSI = sum over bins of (share_now - share_before) * ln(share_now / share_before),
-- each share floored at var health__psi_epsilon (an empty bin would make it infinite).
-- is_drift_alert: PSI at or above var health__psi_alert_threshold, for segments with at least
-- var health__drift_min_members members at both runs. A segment without members at the
-- previous run has no PSI (null).
-- A table over every recorded as_of_date, rebuilt each run from segment_feature_bins (small:
-- segments x features x bins per run), so it is idempotent with its input.

{%- set epsilon = var('health__psi_epsilon') %}

with

segment_feature_bins as (

    select * from {{ ref('segment_feature_bins') }}

),

run_dates as (

    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date
    from (select distinct as_of_date from segment_feature_bins) as recorded_dates

),

bin_pairs as (

    select
        current_bins.as_of_date,
        run_dates.previous_as_of_date,
        current_bins.segment_id,
        current_bins.feature,
        current_bins.bin_index,
        current_bins.segment_members as members,
        previous_bins.segment_members as previous_members,
        greatest(current_bins.member_share, {{ epsilon }}) as bin_share,
        greatest(previous_bins.member_share, {{ epsilon }}) as previous_bin_share
    from segment_feature_bins as current_bins
    inner join run_dates
        on current_bins.as_of_date = run_dates.as_of_date
    left join segment_feature_bins as previous_bins
        on
            run_dates.previous_as_of_date = previous_bins.as_of_date
            and current_bins.segment_id = previous_bins.segment_id
            and current_bins.feature = previous_bins.feature
            and current_bins.bin_index = previous_bins.bin_index
    where run_dates.previous_as_of_date is not null

),

indices as (

    select
        as_of_date,
        segment_id,
        feature,
        any_value(previous_as_of_date) as previous_as_of_date,
        any_value(members) as members,
        max(previous_members) as previous_members,
        count(*) as bins,
        case
            when count(previous_bin_share) = count(*)
                then sum((bin_share - previous_bin_share) * ln(bin_share / previous_bin_share))
        end as population_stability_index
    from bin_pairs
    group by as_of_date, segment_id, feature

),

final as (

    select
        segment_id,
        feature,
        cast(bins as integer) as bins,
        members,
        previous_members,
        population_stability_index,
        coalesce(
            population_stability_index >= {{ var('health__psi_alert_threshold') }}
            and members >= {{ var('health__drift_min_members') }}
            and previous_members >= {{ var('health__drift_min_members') }},
            false
        ) as is_drift_alert,
        as_of_date,
        previous_as_of_date
    from indices

)

select * from final
