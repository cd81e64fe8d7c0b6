{% macro identity_key_history_prune() %}
    {#-
        Post-hook of int_identity_key_history (protected from --full-refresh): deletes the
        identifiers no longer resolved (erased, or now failing a guard), which a full refresh
        used to sweep away. Their node ids can hold an email or phone; the keys they moved
        between stay in customer_key_changes.
    -#}
    delete from {{ this }} where node_id not in (
        select node_id from {{ ref('int_identity_resolved_nodes') }}
    )
{% endmacro %}

{% macro customer_key_changes_prune() %}
    {#-
        Post-hook of customer_key_changes (protected from --full-refresh): deletes the changes
        into the key of a customer erased since they were logged, so that "erased customers
        are absent" holds for the whole log, not only for the rows of this run.
    -#}
    delete from {{ this }} where customer_key in (
        select customer_key from {{ ref('int_identity_erased_customer_keys') }}
    )
{% endmacro %}
