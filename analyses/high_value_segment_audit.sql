-- Rule-based segmentation audit: the two High-Value definitions of seed segment_definitions
-- side by side (high_value_classic, v1, against high_value_improved, v2), as of the build's
-- as_of_date. Rules come from the seed through get_segment_rules (validated, active or not),
-- so the audit always compares the definitions as configured.
-- One row per cohort: each definition, the customers the switch gains and loses, and all
-- customers for reference. Measures (the warehouse holds nothing after as_of_date, so there
-- is no forward-looking conversion; these are what exists):
--   campaign_conversion_rate  share with at least one campaign conversion (campaign_conversions)
--   repeat_purchase_rate      share with at least two purchase days
--   avg_order_value           cohort net revenue / cohort completed orders
--   revenue_share             cohort net revenue / all customers' net revenue
--   email_reach, ads_reach    members with email / ad-audience consent: who a campaign can
--                             actually reach (forecast reach)
--   expected_email_opens      sum of members' email open rates over email-consented members
--   *_lift                    relative change against the baseline definition
-- Compile with `dbt compile --select high_value_segment_audit` and run the SQL in
-- target/compiled/.../high_value_segment_audit.sql against the warehouse.

{%- set baseline_id = 'high_value_classic' %}
{%- set candidate_id = 'high_value_improved' %}
{%- set rule_of = {baseline_id: 'false', candidate_id: 'false'} %}
{%- for rule in get_segment_rules([baseline_id, candidate_id]) %}
    {%- do rule_of.update({rule.segment_id: rule.rule}) %}
{%- endfor %}

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

flagged as (

    select
        customer_key,
        net_revenue,
        order_count,
        purchase_days,
        campaign_conversions,
        email_open_rate,
        has_email_consent,
        has_ads_consent,
        coalesce(({{ rule_of[baseline_id] }}), false) as is_in_baseline,
        coalesce(({{ rule_of[candidate_id] }}), false) as is_in_candidate
    from customer_features

),

cohorts as (

    select
        cohort_values.cohort_order,
        cohort_values.cohort
    from (
        values
        (1, '{{ baseline_id }}'),
        (2, '{{ candidate_id }}'),
        (3, 'gained by switching'),
        (4, 'lost by switching'),
        (5, 'all customers')
    ) as cohort_values (cohort_order, cohort)

),

cohort_members as (

    select
        1 as cohort_order,
        customer_key
    from flagged
    where is_in_baseline
    union all
    select
        2 as cohort_order,
        customer_key
    from flagged
    where is_in_candidate
    union all
    select
        3 as cohort_order,
        customer_key
    from flagged
    where is_in_candidate and not is_in_baseline
    union all
    select
        4 as cohort_order,
        customer_key
    from flagged
    where is_in_baseline and not is_in_candidate
    union all
    select
        5 as cohort_order,
        customer_key
    from flagged

),

totals as (

    select
        count(*) as customers,
        sum(net_revenue) as net_revenue
    from flagged

),

cohort_measures as (

    select
        cohorts.cohort_order,
        cohorts.cohort,
        count(flagged.customer_key) as customers,
        sum(flagged.net_revenue) as net_revenue,
        sum(flagged.order_count) as completed_orders,
        count(flagged.customer_key) filter (where flagged.campaign_conversions > 0)
        / nullif(count(flagged.customer_key), 0) as campaign_conversion_rate,
        count(flagged.customer_key) filter (where flagged.purchase_days >= 2)
        / nullif(count(flagged.customer_key), 0) as repeat_purchase_rate,
        count(flagged.customer_key) filter (where flagged.has_email_consent) as email_reach,
        count(flagged.customer_key) filter (where flagged.has_ads_consent) as ads_reach,
        coalesce(sum(flagged.email_open_rate) filter (where flagged.has_email_consent), 0)
            as expected_email_opens
    from cohorts
    left join cohort_members
        on cohorts.cohort_order = cohort_members.cohort_order
    left join flagged
        on cohort_members.customer_key = flagged.customer_key
    group by cohorts.cohort_order, cohorts.cohort

),

baseline as (

    select * from cohort_measures
    where cohort_order = 1

),

final as (

    select
        cohort_measures.cohort,
        cohort_measures.customers,
        cohort_measures.email_reach,
        cohort_measures.ads_reach,
        round(cohort_measures.customers / totals.customers, 4) as share_of_customers,
        round(cohort_measures.campaign_conversion_rate, 4) as campaign_conversion_rate,
        round(cohort_measures.repeat_purchase_rate, 4) as repeat_purchase_rate,
        round(cohort_measures.net_revenue / nullif(cohort_measures.completed_orders, 0), 2)
            as avg_order_value,
        round(cohort_measures.net_revenue / nullif(totals.net_revenue, 0), 4) as revenue_share,
        round(cohort_measures.expected_email_opens, 1) as expected_email_opens,
        round(cohort_measures.customers / nullif(baseline.customers, 0) - 1, 4) as size_lift,
        round(cohort_measures.email_reach / nullif(baseline.email_reach, 0) - 1, 4) as email_reach_lift,
        round(cohort_measures.ads_reach / nullif(baseline.ads_reach, 0) - 1, 4) as ads_reach_lift,
        round(
            cohort_measures.expected_email_opens / nullif(baseline.expected_email_opens, 0) - 1, 4
        ) as expected_email_opens_lift
    from cohort_measures
    cross join totals
    left join baseline
        on cohort_measures.cohort_order in (1, 2)
    order by cohort_measures.cohort_order

)

select * from final
