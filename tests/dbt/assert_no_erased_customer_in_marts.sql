-- No erased customer appears in any public identity mart. Rows returned = leaks.

{{ erased_customer_leaks(['dim_customers', 'customer_identity_map', 'customer_record_map']) }}
