-- No erased customer appears in any segment or ML mart, history included. Rows returned = leaks.

{{ erased_customer_leaks([
    'customer_rfm',
    'segment_membership',
    'segment_membership_history',
    'customer_clv',
    'customer_churn_scores',
    'customer_clusters',
    'lookalike_scores',
]) }}
