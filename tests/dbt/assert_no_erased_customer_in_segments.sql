-- No erased customer appears in any segment or ML mart, history included. Rows returned = leaks.

with

erased as (

    select customer_key from {{ ref('int_identity_erased_customer_keys') }}

),

published as (

    select
        'customer_rfm' as mart,
        customer_key
    from {{ ref('customer_rfm') }}
    union all
    select
        'segment_membership' as mart,
        customer_key
    from {{ ref('segment_membership') }}
    union all
    select
        'segment_membership_history' as mart,
        customer_key
    from {{ ref('segment_membership_history') }}
    union all
    select
        'customer_clv' as mart,
        customer_key
    from {{ ref('customer_clv') }}
    union all
    select
        'customer_churn_scores' as mart,
        customer_key
    from {{ ref('customer_churn_scores') }}
    union all
    select
        'customer_clusters' as mart,
        customer_key
    from {{ ref('customer_clusters') }}
    union all
    select
        'lookalike_scores' as mart,
        customer_key
    from {{ ref('lookalike_scores') }}

)

select
    published.mart,
    published.customer_key
from published
inner join erased
    on published.customer_key = erased.customer_key
