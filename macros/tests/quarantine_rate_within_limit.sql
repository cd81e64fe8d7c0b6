{% test quarantine_rate_within_limit(model, limits, reasons, hints, sources='required', stop_with_message=true) %}
    {#- Sources of `model` (audit.source_reconciliation) whose quarantine rate is above their row
        in `limits`, one row each with a message naming the source, the rate, the limit, its top
        three reasons with counts and what to change for each (from `hints`: the
        source's own row, else the row without a source). `sources`:
        'required' (files with meta required_file in the raw contract) or 'optional' (the rest).
        With stop_with_message the query itself stops with every such source's message joined
        by ' | ', so the test errors with that line instead of "Got N results"; without, it
        returns the rows. -#}
    {%- set required = required_landing_files() -%}
    {%- if sources not in ['required', 'optional'] -%}
        {{ exceptions.raise_compiler_error(
            "quarantine_rate_within_limit: sources must be 'required' or 'optional', got " ~ sources
        ) }}
    {%- endif -%}

    with

    reconciliation as (

        select
            source_name,
            raw_rows,
            quarantined_rows,
            quarantine_rate
        from {{ model }}
        where source_name {{ 'not ' if sources == 'optional' else '' }}in (
            '{{ required | join("', '") }}'
        )

    ),

    limits as (

        select
            source_name,
            max_quarantine_rate
        from {{ limits }}

    ),

    reason_counts as (

        select
            quarantined.source_name,
            quarantined.quarantine_reason,
            count(*) as reason_rows
        from {{ reasons }} as quarantined
        group by quarantined.source_name, quarantined.quarantine_reason

    ),

    ranked_reasons as (

        select
            reason_counts.source_name,
            {{ dbt.concat([
                'reason_counts.quarantine_reason', "' '",
                dbt.cast('reason_counts.reason_rows', dbt.type_string()),
                "coalesce(' (' || coalesce(source_hints.what_to_do, any_source_hints.what_to_do) || ')', '')",
            ]) }} as reason_text,
            row_number() over (
                partition by reason_counts.source_name
                order by reason_counts.reason_rows desc, reason_counts.quarantine_reason
            ) as reason_rank
        from reason_counts
        left join {{ hints }} as source_hints
            on
                reason_counts.quarantine_reason = source_hints.quarantine_reason
                and reason_counts.source_name = source_hints.source_name
        left join {{ hints }} as any_source_hints
            on
                reason_counts.quarantine_reason = any_source_hints.quarantine_reason
                and any_source_hints.source_name is null

    ),

    top_reasons as (

        select
            source_name,
            {{ dbt.listagg('reason_text', "'; '", 'order by reason_rank') }} as reason_list
        from ranked_reasons
        where reason_rank <= 3
        group by source_name

    ),

    over_limit as (

        select
            reconciliation.source_name,
            reconciliation.raw_rows,
            reconciliation.quarantined_rows,
            reconciliation.quarantine_rate,
            limits.max_quarantine_rate,
            {{ dbt.concat([
                'reconciliation.source_name', "': '",
                dbt.cast('round(100 * reconciliation.quarantine_rate, 1)', dbt.type_string()),
                "'% of '", dbt.cast('reconciliation.raw_rows', dbt.type_string()),
                "' raw rows quarantined, above the limit of '",
                dbt.cast('round(100 * limits.max_quarantine_rate, 1)', dbt.type_string()),
                "'% (seeds/quality/source_quarantine_limits.csv). Top reasons: '",
                "coalesce(top_reasons.reason_list, 'none recorded')",
                "'. Rows and raw values: audit.quarantined_rows.'",
            ]) }} as failure_message
        from reconciliation
        inner join limits
            on reconciliation.source_name = limits.source_name
        left join top_reasons
            on reconciliation.source_name = top_reasons.source_name
        where reconciliation.quarantine_rate > limits.max_quarantine_rate

    ),

    messages as (

        select {{ dbt.listagg('failure_message', "' | '", 'order by source_name') }} as all_messages
        from over_limit

    )

    select over_limit.*
    from over_limit
    {#- The stop sits in the filter, not the select list: dbt only counts the test's rows, and
        an unused column (with its error) would be optimised away. One message for all sources. -#}
    {%- if stop_with_message %}
        cross join messages
        where {{ raise_error('messages.all_messages') }} is null
    {%- endif %}
{% endtest %}

