-- One row per customer of customer_features: the next best action (seed
-- next_best_action_rules), proposed only on a channel the customer consented to. A rule
-- matches when the conditions it sets hold (segment_id membership, churn band, CLV >= min_clv).
-- Matches rank by value_score = value at stake (CLV x churn probability 'retain', CLV x (1 -
-- churn probability) 'grow'; missing = 0) x uplift_factor (1 + the significant relative
-- conversion lift of the rule's uplift_campaign_id in campaign_lift, else 1), then priority,
-- rule_id. The best consented match wins; else the fallback if its channel is consented; else
-- nothing. decision_reason says which; skipped_rule_id = the better match lacking consent.
-- action_rank orders an action's customers by value_score (whom to contact first).

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

customer_rfm as (

    select * from {{ ref('customer_rfm') }}

),

customer_churn_scores as (

    select * from {{ ref('customer_churn_scores') }}

),

customer_clv as (

    select * from {{ ref('customer_clv') }}

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

rules as (

    select
        rules.*,
        case
            when campaign_lift.is_conversion_significant
                then greatest(0, 1 + coalesce(campaign_lift.conversion_lift_rel, 0))
            else 1
        end as uplift_factor
    from {{ ref('next_best_action_rules') }} as rules
    left join {{ ref('campaign_lift') }} as campaign_lift
        on rules.uplift_campaign_id = campaign_lift.campaign_id
    where rules.is_active

),

customer_profiles as (

    select
        customer_features.customer_key,
        customer_rfm.lifecycle_stage,
        customer_rfm.rfm_segment,
        customer_churn_scores.churn_probability,
        customer_clv.clv,
        coalesce(customer_churn_scores.churn_risk_band, 'unscored') as churn_risk_band,
        {{ map_literal([
            ("'email'", 'customer_features.has_email_consent'),
            ("'sms'", 'customer_features.has_sms_consent'),
            ("'ads'", 'customer_features.has_ads_consent'),
            ("'push'", 'customer_features.has_push_consent'),
        ]) }} as consent_by_channel
    from customer_features
    left join customer_rfm
        on customer_features.customer_key = customer_rfm.customer_key
    left join customer_churn_scores
        on customer_features.customer_key = customer_churn_scores.customer_key
    left join customer_clv
        on customer_features.customer_key = customer_clv.customer_key

),

-- (customer, rule) pairs whose conditions hold; the fallback applies to everyone.
candidates as (

    select
        customer_profiles.customer_key,
        rules.rule_id,
        rules.is_fallback,
        rules.priority,
        rules.uplift_factor,
        coalesce(customer_profiles.consent_by_channel[rules.channel], false) as has_consent,
        coalesce(customer_profiles.clv, 0) * case rules.objective
            when 'retain' then coalesce(customer_profiles.churn_probability, 0)
            else 1 - coalesce(customer_profiles.churn_probability, 0)
        end as value_at_stake
    from customer_profiles
    cross join rules
    -- at most one row: segment_membership is unique on (customer_key, segment_id); a join,
    -- not a correlated exists, which Spark cannot plan in a join condition
    left join segment_membership as rule_segment
        on
            customer_profiles.customer_key = rule_segment.customer_key
            and rules.segment_id = rule_segment.segment_id
    where
        rules.is_fallback
        or (
            (rules.churn_risk_band is null or customer_profiles.churn_risk_band = rules.churn_risk_band)
            and (rules.min_clv is null or customer_profiles.clv >= rules.min_clv)
            and (rules.segment_id is null or rule_segment.customer_key is not null)
        )

),

ranked as (

    select
        *,
        value_at_stake * uplift_factor as value_score,
        count(*) filter (where not is_fallback) over (partition by customer_key) as matched_rule_count,
        row_number() over (
            partition by customer_key
            order by is_fallback asc, value_at_stake * uplift_factor desc, priority asc, rule_id asc
        ) as match_rank,
        row_number() over (
            partition by customer_key
            order by has_consent desc, is_fallback asc, value_at_stake * uplift_factor desc, priority asc, rule_id asc
        ) as consented_rank
    from candidates

),

decided as (

    select
        chosen.customer_key,
        chosen.matched_rule_count,
        case when chosen.has_consent then chosen.rule_id end as rule_id,
        case when chosen.has_consent then chosen.value_at_stake end as value_at_stake,
        case when chosen.has_consent then chosen.uplift_factor end as uplift_factor,
        case when chosen.has_consent then chosen.value_score end as value_score,
        case when best.rule_id <> chosen.rule_id or not chosen.has_consent then best.rule_id end as skipped_rule_id,
        case
            when not chosen.has_consent then 'no_reachable_channel'
            when chosen.is_fallback and chosen.matched_rule_count = 0 then 'fallback_no_match'
            when chosen.is_fallback then 'fallback_no_consent'
            when chosen.rule_id = best.rule_id then 'best_match'
            else 'next_eligible_no_consent'
        end as decision_reason
    from ranked as chosen
    inner join ranked as best
        on chosen.customer_key = best.customer_key and best.match_rank = 1
    where chosen.consented_rank = 1

),

final as (

    select
        decided.customer_key,
        decided.rule_id,
        rules.action,
        rules.channel,
        rules.objective,
        customer_profiles.lifecycle_stage,
        customer_profiles.rfm_segment,
        customer_profiles.churn_risk_band,
        rules.priority as rule_priority,
        cast(decided.matched_rule_count as integer) as matched_rule_count,
        case when decided.rule_id is not null then row_number() over (
            partition by decided.rule_id is null, rules.action
            order by decided.value_score desc, decided.customer_key asc
        ) end as action_rank,
        customer_profiles.churn_probability,
        customer_profiles.clv,
        decided.value_at_stake,
        decided.uplift_factor,
        decided.value_score,
        coalesce(rules.is_fallback, false) as is_fallback,
        decided.decision_reason,
        decided.skipped_rule_id,
        skipped.channel as skipped_channel,
        {{ as_of_date_sql() }} as as_of_date
    from decided
    inner join customer_profiles
        on decided.customer_key = customer_profiles.customer_key
    left join rules
        on decided.rule_id = rules.rule_id
    left join rules as skipped
        on decided.skipped_rule_id = skipped.rule_id

)

select * from final
