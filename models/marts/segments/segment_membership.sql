-- One row per customer and segment they belong to as of as_of_date, across families:
--   rule       segments of segment_definitions_in_effect (the seed, or a pinned version;
--              active rules over customer_features,
--              validated and compiled at run time by get_segment_rules / segment_rule_matches),
--              plus the fallback 'unassigned_<group>' for a customer matching none in a group;
--   rfm        the customer's RFM segment (customer_rfm; 'rfm_prospect' without an order);
--   lifecycle  the customer's lifecycle stage (customer_rfm);
--   churn_risk the customer's churn risk band (customer_churn_scores, a Python model), with
--              the fallback 'churn_risk_unscored' for customers without a score (prospects,
--              or everyone when the data could not train a model).
-- Within an exclusivity group the segment with the lowest priority is primary (ties by
-- segment_id); rfm, lifecycle and churn_risk are one group each with one segment per customer.
-- Another family (clusters) is one more CTE of the same shape in `memberships`,
-- with its own exclusivity group. Customers are those of customer_features: erased customers
-- are absent.

{%- set rules = get_segment_rules(definitions=ref('segment_definitions_in_effect')) %}

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

customer_rfm as (

    select * from {{ ref('customer_rfm') }}

),

segment_definitions as (

    select * from {{ ref('segment_definitions_in_effect') }}
    where is_active

),

rfm_segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

customer_churn_scores as (

    select * from {{ ref('customer_churn_scores') }}

),

rule_matches as (

    {{ segment_rule_matches(rules, 'customer_features') }}

),

rule_segments as (

    select
        rule_matches.customer_key,
        segment_definitions.segment_id,
        'rule' as segment_family,
        segment_definitions.exclusivity_group,
        segment_definitions.segment_name,
        segment_definitions.version as segment_version,
        segment_definitions.priority,
        false as is_fallback
    from rule_matches
    inner join segment_definitions
        on rule_matches.segment_id = segment_definitions.segment_id

),

exclusivity_groups as (

    select distinct exclusivity_group from segment_definitions

),

rule_fallbacks as (

    select
        customer_features.customer_key,
        'unassigned_' || exclusivity_groups.exclusivity_group as segment_id,
        'rule' as segment_family,
        exclusivity_groups.exclusivity_group,
        'Unassigned' as segment_name,
        cast(null as integer) as segment_version,
        cast(null as integer) as priority,
        true as is_fallback
    from customer_features
    cross join exclusivity_groups
    where not exists (
        select 1
        from rule_segments
        where
            rule_segments.customer_key = customer_features.customer_key
            and rule_segments.exclusivity_group = exclusivity_groups.exclusivity_group
    )

),

rfm_segments as (

    select
        customer_rfm.customer_key,
        case
            when customer_rfm.r_score is null then 'rfm_prospect'
            else 'rfm_' || rfm_segment_map.rfm_segment_id
        end as segment_id,
        'rfm' as segment_family,
        'rfm' as exclusivity_group,
        customer_rfm.rfm_segment as segment_name,
        cast(null as integer) as segment_version,
        cast(null as integer) as priority,
        false as is_fallback
    from customer_rfm
    left join rfm_segment_map
        on customer_rfm.rfm_segment = rfm_segment_map.rfm_segment

),

lifecycle_segments as (

    select
        customer_key,
        'lifecycle_' || lifecycle_stage as segment_id,
        'lifecycle' as segment_family,
        'lifecycle' as exclusivity_group,
        upper(left(lifecycle_stage, 1)) || substr(lifecycle_stage, 2) as segment_name,
        cast(null as integer) as segment_version,
        cast(null as integer) as priority,
        false as is_fallback
    from customer_rfm

),

churn_risk_segments as (

    select
        customer_features.customer_key,
        coalesce(
            'churn_risk_' || customer_churn_scores.churn_risk_band, 'churn_risk_unscored'
        ) as segment_id,
        'churn_risk' as segment_family,
        'churn_risk' as exclusivity_group,
        case customer_churn_scores.churn_risk_band
            when 'high' then 'High churn risk'
            when 'medium' then 'Medium churn risk'
            when 'low' then 'Low churn risk'
            else 'Churn risk unscored'
        end as segment_name,
        cast(null as integer) as segment_version,
        cast(null as integer) as priority,
        customer_churn_scores.customer_key is null as is_fallback
    from customer_features
    left join customer_churn_scores
        on customer_features.customer_key = customer_churn_scores.customer_key

),

memberships as (

    select * from rule_segments
    union all
    select * from rule_fallbacks
    union all
    select * from rfm_segments
    union all
    select * from lifecycle_segments
    union all
    select * from churn_risk_segments

),

final as (

    select
        customer_key,
        segment_id,
        segment_family,
        exclusivity_group,
        segment_name,
        segment_version,
        priority,
        row_number() over (
            partition by customer_key, exclusivity_group
            order by is_fallback, priority nulls last, segment_id
        ) = 1 as is_primary,
        is_fallback,
        {{ as_of_date_sql() }} as as_of_date
    from memberships

)

select * from final
