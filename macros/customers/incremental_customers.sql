{#-
    Incremental customer intermediates (docs/incremental.md, "Customer intermediates"). Such a
    model keeps one table of rows per customer_sk and, on an incremental run, recomputes only
    the rows of the customers the run touched:

      1. customers whose identity map rows changed since the model's last run: an identifier
         (of the types the model attributes by) that moved to another customer_sk (merge,
         split), appeared, disappeared, or whose customer became or stopped being eligible
         (erased, gained a golden record);
      2. customers, under the old and the new map, of every identifier carried by a source row
         (re-)classified since the model's last run, in any status (a row that left staging
         counts), and of every staged row carrying an identifier of (1);
      3. what the model adds (retention, ...).

    The model's last run is recorded by a post-hook in `<model>__state` (the identity map the
    table was computed from, and that run's start), inside the model's transaction: a failed
    run leaves table and record as they were, so the next run diffs against the last run that
    committed, and nothing in between is skipped. No record (first build, dropped table) or
    --full-refresh: a full build. Touched customers are kept in `<model>__touched`.
-#}

{% macro customer_incremental_relation(suffix) %}
    {#- A bookkeeping table beside the model: `<model>__state` or `<model>__touched`. -#}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__' ~ suffix
    )) }}
{% endmacro %}


{% macro customer_incremental_is_full() %}
    {#- Whether this run builds the whole table (no record of a last run, or not incremental). -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set state = customer_incremental_relation('state') -%}
    {{ return(adapter.get_relation(
        database=state.database, schema=state.schema, identifier=state.identifier
    ) is none) }}
{% endmacro %}


{% macro customer_identity_map(identifier_types, is_eligible) %}
    {#-
        The resolved identifiers of the given types with their customer_sk, and whether that
        customer is one the model keeps rows for (is_eligible: a condition on
        resolved_nodes.customer_sk).
    -#}
    select
        resolved_nodes.identifier_type,
        resolved_nodes.identifier_value,
        resolved_nodes.customer_sk,
        {{ is_eligible }} as is_eligible
    from {{ ref('int_identity_resolved_nodes') }} as resolved_nodes
    where
        resolved_nodes.identifier_type in ({{ staging_sql_list(identifier_types) }})
        and resolved_nodes.identifier_value is not null
        and resolved_nodes.customer_sk is not null
{% endmacro %}


{% macro customer_not_erased(customer_sk) %}
    {#- A condition: the customer was not erased (int_identity_erased_customer_keys). -#}
    {{ customer_sk }} not in (
        select erased.customer_sk from {{ ref('int_identity_erased_customer_keys') }} as erased
    )
{%- endmacro %}


{% macro customer_with_identifiers(relation, identifier_columns, identifiers) %}
    {#-
        A filter: the row of `relation` ('' = unqualified columns) carries one of the
        identifiers in the query `identifiers` (identifier_type, identifier_value), in the
        columns identifier_columns {identifier_type: column}.
    -#}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {%- set terms = [] -%}
    {%- for identifier_type, column in identifier_columns.items() -%}
        {%- do terms.append(
            prefix ~ column ~ ' in (select identifier_value from ' ~ identifiers
            ~ " where identifier_type = '" ~ identifier_type ~ "')"
        ) -%}
    {%- endfor -%}
    {{ return('(' ~ terms | join('\n        or ') ~ ')') }}
{% endmacro %}


{% macro customer_incremental_touched(identity_map, changed_rows, identifier_columns, extra_touched=none) %}
    {#-
        The customer_sk of every customer this run touched (rules 1-3 above). identity_map: the
        current map (customer_identity_map); changed_rows: a query of the source rows
        (re-)classified after `__since__` or staged with an identifier in the CTE
        `changed_identifiers` (identifier_type, identifier_value), with the identifier_columns
        {identifier_type: column}; extra_touched: a query of more customer_sk, or none.
    -#}
    {%- set state = customer_incremental_relation('state') -%}
    {%- set since = '(select max(state_run_started_at) from ' ~ state ~ ')' -%}
    with

    current_map as {{ not_materialized() }} (

        {{ identity_map }}

    ),

    previous_map as {{ not_materialized() }} (

        select identifier_type, identifier_value, customer_sk, is_eligible from {{ state }}

    ),

    changed_map as (

        (select * from current_map except select * from previous_map)
        union all
        (select * from previous_map except select * from current_map)

    ),

    changed_identifiers as {{ not_materialized() }} (

        select distinct identifier_type, identifier_value from changed_map

    ),

    changed_rows as {{ not_materialized() }} (

        {{ changed_rows | replace('__since__', since) }}

    ),

    affected_identifiers as (

        select identifier_type, identifier_value from changed_identifiers
        {%- for identifier_type, column in identifier_columns.items() %}
            union
            select
                '{{ identifier_type }}' as identifier_type,
                {{ column }} as identifier_value
            from changed_rows
            where {{ column }} is not null
        {%- endfor %}

    ),

    touched as (

        select current_map.customer_sk
        from current_map
        inner join affected_identifiers
            on
                current_map.identifier_type = affected_identifiers.identifier_type
                and current_map.identifier_value = affected_identifiers.identifier_value
        union
        select previous_map.customer_sk
        from previous_map
        inner join affected_identifiers
            on
                previous_map.identifier_type = affected_identifiers.identifier_type
                and previous_map.identifier_value = affected_identifiers.identifier_value
        {%- if extra_touched %}
            union
            {{ extra_touched }}
        {%- endif %}

    )

    select distinct customer_sk from touched
{% endmacro %}


{% macro customer_incremental_prepare(touched_sql) %}
    {#-
        Pre-hook: on an incremental run, record the touched customers in `<model>__touched` and
        delete their rows (a touched customer left with no row must lose the old ones; the
        model then inserts the recomputed rows). A table without its record is emptied (then
        built in full); nothing on a full build.
    -#}
    {%- if customer_incremental_is_full() -%}
        {%- if execute and this is not none and is_incremental() -%}
            {#- The table is there but not its record: rebuild it, emptied first. -#}
            {{ log(this.identifier ~ ': full rebuild (no record of the last run: '
                ~ customer_incremental_relation('state') ~ ')', info=True) }}
            {{ return('delete from ' ~ this) }}
        {%- endif -%}
        {{ return('') }}
    {%- endif -%}
    {%- set touched = customer_incremental_relation('touched') -%}
    {{ return(
        'create or replace table ' ~ touched ~ ' as ' ~ touched_sql ~ ';\n'
        ~ 'delete from ' ~ this ~ ' where customer_sk in (select customer_sk from ' ~ touched ~ ')'
    ) }}
{% endmacro %}


{% macro customer_incremental_touched_filter(column) %}
    {#- On an incremental run, `column` in the touched customers; true on a full build. -#}
    {%- if customer_incremental_is_full() -%}
        {{ return('true') }}
    {%- endif -%}
    {{ return(column ~ ' in (select customer_sk from ' ~ customer_incremental_relation('touched') ~ ')') }}
{% endmacro %}


{% macro customer_touched_identifiers(resolved_nodes) %}
    {#- The touched customers' identifiers (identifier_type, identifier_value) in the identity
        map `resolved_nodes`: every event attributed to one of them carries one of these. -#}
    select
        identifier_type,
        identifier_value
    from {{ resolved_nodes }}
    where {{ customer_incremental_touched_filter('customer_sk') }}
{% endmacro %}


{% macro customer_touched_source(name, model, identifier_columns, resolved_nodes='resolved_nodes') %}
    {#-
        The CTE `name` of the rows of `model` (a stg_ view) an incremental customer model reads:
        all of them on a full build; on an incremental run only the rows carrying an identifier
        of a touched customer (identifier_columns {identifier_type: column}), from the CTE
        `touched_identifiers` written first (customer_touched_identifiers over `resolved_nodes`).
        Every row attributed to a touched customer carries one of those identifiers, so the
        customer's rows are complete from these.
    -#}
    {%- set is_full = customer_incremental_is_full() -%}
    {%- if not is_full %}
touched_identifiers as (

    {{ customer_touched_identifiers(resolved_nodes) }}

),
    {%- endif %}

{{ name }} as (

    select * from {{ ref(model) }}
    {%- if not is_full %}
        where {{ customer_with_identifiers('', identifier_columns, 'touched_identifiers') }}
    {%- endif %}

)
{%- endmacro %}


{% macro customer_incremental_config(touched, identity_map) %}
    {#-
        The config of an incremental customer model, for `config(**customer_incremental_config(...))`:
        delete+insert per customer_sk, the pre-hook customer_incremental_prepare over the model's
        macro `touched` and the post-hook customer_incremental_record_state over its macro
        `identity_map` (both given by name: hooks are rendered when they run).
    -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'customer_sk',
        'on_schema_change': 'fail',
        'pre_hook': '{{ customer_incremental_prepare(' ~ touched ~ '()) }}',
        'post_hook': '{{ customer_incremental_record_state(' ~ identity_map ~ '()) }}',
    }) }}
{% endmacro %}


{% macro customer_incremental_record_state(identity_map) %}
    {#- Post-hook: the identity map this run's table was computed from, and the run's start. -#}
    {%- if not execute or this is none -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(
        'create or replace table ' ~ customer_incremental_relation('state') ~ ' as select *, '
        ~ staging_batch_run_started_at() ~ ' as state_run_started_at from (' ~ identity_map ~ ') as identity_map'
    ) }}
{% endmacro %}
