{#-
    What int_customer_campaign_events' incremental runs need (macros/customers/
    incremental_customers.sql): the identity map it attributes events by (every customer not
    erased keeps rows) and the customers a run touched.
-#}

{% macro customer_campaign_events_identifier_columns() %}
    {#- The event columns an event is attributed by, in priority order, by identifier type. -#}
    {{ return({'customer_id': 'customer_id', 'email': 'email'}) }}
{% endmacro %}


{% macro customer_campaign_events_identity_map() %}
    {{ return(customer_identity_map(
        customer_campaign_events_identifier_columns().keys() | list,
        customer_not_erased('resolved_nodes.customer_sk'),
    )) }}
{% endmacro %}


{% macro customer_campaign_events_touched() %}
    {#- Customers touched by this run: the common rules (no retention limit on these events). -#}
    {%- set changed_rows -%}
        select batches.customer_id, batches.email
        from {{ ref('stg_marketing__campaign_event_batches') }} as batches
        where batches.batch_run_started_at > __since__
        union all
        select events.customer_id, events.email
        from {{ ref('stg_marketing__campaign_events') }} as events
        where {{ customer_with_identifiers(
            'events', customer_campaign_events_identifier_columns(), 'changed_identifiers'
        ) }}
    {%- endset -%}
    {{ return(customer_incremental_touched(
        customer_campaign_events_identity_map(),
        changed_rows,
        customer_campaign_events_identifier_columns(),
    )) }}
{% endmacro %}
