-- One recommended action per customer (every customer of customer_features) from seed
-- next_best_action_rules. A rule matches when all the conditions it sets hold: membership of
-- its segment_id (any segment_membership row), the customer's churn band, CLV at least
-- min_clv. The matching active rule with the lowest priority wins; at equal priority the one
-- with more value at stake (CLV x churn probability for 'retain' rules, CLV x (1 - churn
-- probability) for 'grow' rules; a missing CLV or probability counts as 0), then rule_id.
-- Customers no rule matches get the seed's fallback row. action_rank orders the customers of
-- one action by value at stake (who to contact first when capacity is short).

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

    select * from {{ ref('next_best_action_rules') }}
    where is_active

),

customer_profiles as (

    select
        customer_features.customer_key,
        customer_rfm.lifecycle_stage,
        customer_rfm.rfm_segment,
        customer_churn_scores.churn_probability,
        customer_clv.clv,
        customer_features.has_email_consent,
        customer_features.has_sms_consent,
        customer_features.has_ads_consent,
        customer_features.has_push_consent,
        coalesce(customer_churn_scores.churn_risk_band, 'unscored') as churn_risk_band
    from customer_features
    left join customer_rfm
        on customer_features.customer_key = customer_rfm.customer_key
    left join customer_churn_scores
        on customer_features.customer_key = customer_churn_scores.customer_key
    left join customer_clv
        on customer_features.customer_key = customer_clv.customer_key

),

segment_candidates as (

    select
        segment_membership.customer_key,
        rules.rule_id
    from rules
    inner join segment_membership
        on rules.segment_id = segment_membership.segment_id
    where not rules.is_fallback

    union all

    select
        customer_profiles.customer_key,
        rules.rule_id
    from rules
    cross join customer_profiles
    where not rules.is_fallback and rules.segment_id is null

),

rule_matches as (

    select
        segment_candidates.customer_key,
        rules.rule_id,
        rules.priority,
        coalesce(customer_profiles.clv, 0) * case rules.objective
            when 'retain' then coalesce(customer_profiles.churn_probability, 0)
            else 1 - coalesce(customer_profiles.churn_probability, 0)
        end as value_at_stake
    from segment_candidates
    inner join rules
        on segment_candidates.rule_id = rules.rule_id
    inner join customer_profiles
        on segment_candidates.customer_key = customer_profiles.customer_key
    where
        (rules.churn_risk_band is null or rules.churn_risk_band = customer_profiles.churn_risk_band)
        and (rules.min_clv is null or customer_profiles.clv >= rules.min_clv)

),

ranked_matches as (

    select
        customer_key,
        rule_id,
        count(*) over (partition by customer_key) as matched_rule_count,
        row_number() over (
            partition by customer_key
            order by priority asc, value_at_stake desc, rule_id asc
        ) as choice_rank
    from rule_matches

),

chosen as (

    select
        customer_profiles.*,
        coalesce(ranked_matches.rule_id, fallback_rules.rule_id) as rule_id,
        coalesce(ranked_matches.matched_rule_count, 0) as matched_rule_count
    from customer_profiles
    left join ranked_matches
        on
            customer_profiles.customer_key = ranked_matches.customer_key
            and ranked_matches.choice_rank = 1
    left join rules as fallback_rules
        on fallback_rules.is_fallback

),

valued as (

    select
        chosen.*,
        rules.action,
        rules.channel,
        rules.objective,
        rules.priority,
        rules.is_fallback,
        coalesce(chosen.clv, 0) * case rules.objective
            when 'retain' then coalesce(chosen.churn_probability, 0)
            else 1 - coalesce(chosen.churn_probability, 0)
        end as value_at_stake
    from chosen
    inner join rules
        on chosen.rule_id = rules.rule_id

),

final as (

    select
        customer_key,
        rule_id,
        action,
        channel,
        objective,
        lifecycle_stage,
        rfm_segment,
        churn_risk_band,
        priority as rule_priority,
        cast(matched_rule_count as integer) as matched_rule_count,
        row_number() over (
            partition by action order by value_at_stake desc, customer_key asc
        ) as action_rank,
        churn_probability,
        clv,
        value_at_stake,
        is_fallback,
        case channel
            when 'email' then has_email_consent
            when 'sms' then has_sms_consent
            when 'ads' then has_ads_consent
            when 'push' then has_push_consent
        end as has_channel_consent,
        {{ as_of_date_sql() }} as as_of_date
    from valued

)

select * from final
