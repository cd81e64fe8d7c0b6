-- One row per campaign and arm (var segments__campaign_variants: treatment, control), every
-- arm present even when empty (members = 0, mean and variance null), so campaign_lift sees
-- both arms of every campaign. Members in both arms are counted per campaign and left out of
-- the arms. Revenue per member averages over all members of the arm (non-converters count
-- as 0); its sample variance (ddof 1) feeds Welch's test in campaign_lift.

with

member_outcomes as (

    select * from {{ ref('campaign_member_outcomes') }}

),

campaign_events as (

    select * from {{ ref('int_customer_campaign_events') }}

),

arms as (

    -- One row per variant of var segments__campaign_variants (treatment, control).
    select variant_list.variant
    from (
        values
        {%- for variant in var('segments__campaign_variants') %}
            ({{ string_literal(variant) }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as variant_list (variant)

),

campaigns as (

    select
        member_outcomes.campaign_id,
        any_value(member_outcomes.conversion_source) as conversion_source,
        count(*) filter (where member_outcomes.is_in_both_arms) as members_in_both_arms,
        bool_and(member_outcomes.is_window_complete) as is_window_complete
    from member_outcomes
    group by member_outcomes.campaign_id

),

campaign_channels as (

    select
        campaign_id,
        {{ string_agg_ordered('channel', "','", distinct=true) }} as channel
    from campaign_events
    group by campaign_id

),

arm_outcomes as (

    select
        campaign_id,
        variant,
        count(*) as members,
        count(*) filter (where is_converted) as conversions,
        sum(revenue) as revenue,
        -- the exact decimal sum over the count: the same figure in every build (a double avg
        -- depends on the order two threads add in)
        cast(sum(revenue) as double) / count(revenue) as revenue_per_member,
        -- the sample variance from exact decimal sums, (n * sum(x^2) - sum(x)^2) / (n * (n - 1)),
        -- rounded to double once: var_samp over doubles also varied in its last digits
        case
            when count(revenue) > 1
                then cast(
                    count(revenue) * sum(revenue * revenue) - sum(revenue) * sum(revenue)
                    as double
                ) / (count(revenue) * (count(revenue) - 1))
        end as revenue_variance,
        min(assigned_at) as first_assigned_at,
        max(assigned_at) as last_assigned_at
    from member_outcomes
    where not is_in_both_arms
    group by campaign_id, variant

),

final as (

    select
        campaigns.campaign_id,
        campaign_channels.channel,
        arms.variant,
        campaigns.conversion_source,
        coalesce(arm_outcomes.members, 0) as members,
        campaigns.members_in_both_arms,
        coalesce(arm_outcomes.conversions, 0) as conversions,
        cast(coalesce(arm_outcomes.revenue, 0) as decimal(18, 2)) as revenue,
        arm_outcomes.revenue_per_member,
        arm_outcomes.revenue_variance,
        campaigns.is_window_complete,
        arm_outcomes.first_assigned_at,
        arm_outcomes.last_assigned_at,
        {{ as_of_date_sql() }} as as_of_date
    from campaigns
    cross join arms
    left join campaign_channels
        on campaigns.campaign_id = campaign_channels.campaign_id
    left join arm_outcomes
        on
            campaigns.campaign_id = arm_outcomes.campaign_id
            and arms.variant = arm_outcomes.variant

)

select * from final
