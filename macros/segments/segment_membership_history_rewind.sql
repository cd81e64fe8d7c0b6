{% macro segment_membership_history_rewind() %}
    {#-
        Pre-hook of segment_membership_history (incremental): puts the history back to how it
        was before any earlier run at this as_of_date, so that a rerun at the same date is
        idempotent: spells opened on as_of_date are deleted, spells closed on as_of_date are
        reopened. Also deletes every spell of an erased customer (erasure reaches history too).
        Renders nothing on the first run or a full refresh.
    -#}
    {%- if is_incremental() -%}
        {%- set as_of = as_of_date_sql() -%}
        delete from {{ this }} where valid_from = {{ as_of }};
        update {{ this }} set valid_to = null where valid_to = {{ as_of }};
        delete from {{ this }} where customer_key in (
            select customer_key from {{ ref('int_identity_erased_customer_keys') }}
        )
    {%- endif -%}
{% endmacro %}
