{#-
    What int_customer_web_sessions' incremental runs need (macros/customers/
    incremental_customers.sql): which customers it keeps rows for, the identity map it
    attributes events by, and the customers a run touched.
-#}

{% macro customer_web_sessions_identifier_columns() %}
    {#- The event columns an event is attributed by, in priority order, by identifier type. -#}
    {{ return({'customer_id': 'customer_id', 'email': 'email', 'anonymous_id': 'anonymous_id'}) }}
{% endmacro %}


{% macro customer_web_sessions_eligible() %}
    {#- Customers the model keeps sessions for: a golden record, not erased. -#}
    select golden_records.customer_sk
    from {{ ref('int_customer_golden_records') }} as golden_records
    where {{ customer_not_erased('golden_records.customer_sk') }}
{% endmacro %}


{% macro customer_web_sessions_identity_map() %}
    {{ return(customer_identity_map(
        customer_web_sessions_identifier_columns().keys() | list,
        'resolved_nodes.customer_sk in (' ~ customer_web_sessions_eligible() ~ ')',
    )) }}
{% endmacro %}


{% macro customer_web_sessions_touched() %}
    {#-
        Customers touched by this run: the common rules, and under a web retention limit every
        customer with a stored session started before the cutoff (its events before the cutoff
        are now tombstones: the session shrinks or goes).
    -#}
    {%- set changed_rows -%}
        select batches.customer_id, batches.email, batches.anonymous_id
        from {{ ref('stg_web__event_batches') }} as batches
        where batches.batch_run_started_at > __since__
        union all
        select events.customer_id, events.email, events.anonymous_id
        from {{ ref('stg_web__events') }} as events
        where {{ customer_with_identifiers(
            'events', customer_web_sessions_identifier_columns(), 'changed_identifiers'
        ) }}
    {%- endset -%}
    {%- set cutoff = retention_cutoff('retention__web_events_months', 'months') -%}
    {%- set extra_touched = none -%}
    {%- if cutoff is not none -%}
        {%- set extra_touched = 'select customer_sk from ' ~ this
            ~ " where session_started_at < cast('" ~ cutoff ~ "' as timestamp)" -%}
    {%- endif -%}
    {{ return(customer_incremental_touched(
        customer_web_sessions_identity_map(),
        changed_rows,
        customer_web_sessions_identifier_columns(),
        extra_touched,
    )) }}
{% endmacro %}
