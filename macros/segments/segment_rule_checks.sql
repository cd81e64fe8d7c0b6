{% macro segment_rule_checks(definitions, features=none, segment_ids=none) %}
    {#-
        A query returning (segment_id, rule, problem) for the active rules of `definitions`
        (or those in segment_ids): problem is one line saying what is wrong, null when the rule
        is fine. Nothing here throws on a bad rule, so the caller can name the segment.
    -#}
    {{ return(adapter.dispatch('segment_rule_checks')(definitions, features, segment_ids)) }}
{% endmacro %}


{% macro default__segment_rule_checks(definitions, features, segment_ids) %}
    {#- Without a parser to ask, only empty rules are caught here; the build reports the rest. -#}
    select
        segment_id,
        rule,
        case when rule is null or trim(rule) = '' then 'is empty' end as problem
    from {{ definitions }}
    where {{ segment_rule_filter(segment_ids) }}
    order by segment_id
{% endmacro %}


{% macro duckdb__segment_rule_checks(definitions, features, segment_ids) %}
    {#-
        DuckDB parses and binds SQL without running it and reports errors as values:
        json_serialize_sql gives the parse tree of `select (<rule>)` (or the syntax error) and
        shows whether the rule is one expression without subqueries, window functions or
        aggregates; json_serialize_plan binds `select typeof((<rule>)) from customer_features`
        (unknown columns and functions, type errors) and folds typeof to the rule's type, which
        must be BOOLEAN. Binding is skipped while customer_features does not exist yet (compile
        on an empty warehouse). Rules are concatenated in SQL, never in Jinja, so no quoting is
        involved; json_serialize_plan only runs on rules that passed the shape checks.
    -#}
    with

    definitions as (

        select
            segment_id,
            rule
        from {{ definitions }}
        where {{ segment_rule_filter(segment_ids) }}

    ),

    parsed as (

        select
            segment_id,
            rule,
            cast(json_serialize_sql('select (' || rule || ') as rule_value') as json) as parse_tree
        from definitions

    ),

    shaped as (

        select
            segment_id,
            rule,
            parse_tree,
            parse_tree ->> 'error' = 'true' as has_syntax_error,
            json_array_length(parse_tree -> 'statements') = 1
            and parse_tree ->> '$.statements[0].node.type' = 'SELECT_NODE'
            and json_array_length(parse_tree -> '$.statements[0].node.select_list') = 1
            and parse_tree ->> '$.statements[0].node.from_table.type' = 'EMPTY'
            and parse_tree ->> '$.statements[0].node.where_clause' is null
            and parse_tree ->> '$.statements[0].node.having' is null
            and parse_tree ->> '$.statements[0].node.qualify' is null
            and json_array_length(parse_tree -> '$.statements[0].node.group_expressions') = 0
            and json_array_length(parse_tree -> '$.statements[0].node.modifiers') = 0 as is_one_expression,
            json_extract_string(parse_tree, '$..class') as expression_classes,
            list_filter(
                json_extract(parse_tree, '$..column_names'), lambda names: json_array_length(names) > 1
            ) as qualified_columns
        from parsed

    ),

    called_functions as (

        select
            segment_id,
            unnest(json_extract_string(parse_tree, '$..function_name')) as function_name
        from shaped
        where not coalesce(has_syntax_error, true)

    ),

    aggregate_functions as (

        select function_name from duckdb_functions() where function_type = 'aggregate'
        except
        select function_name from duckdb_functions() where function_type in ('scalar', 'macro')

    ),

    aggregate_calls as (

        select
            called_functions.segment_id,
            min(called_functions.function_name) as aggregate_function
        from called_functions
        inner join aggregate_functions
            on called_functions.function_name = aggregate_functions.function_name
        group by called_functions.segment_id

    ),

    shape_checked as (

        select
            shaped.segment_id,
            shaped.rule,
            case
                when shaped.rule is null or trim(shaped.rule) = '' then 'is empty'
                when coalesce(shaped.has_syntax_error, true)
                    then 'does not parse: ' || coalesce(shaped.parse_tree ->> 'error_message', 'unknown error')
                when not coalesce(shaped.is_one_expression, false)
                    then 'is not a single SQL expression'
                when list_contains(shaped.expression_classes, 'SUBQUERY')
                    then 'uses a subquery (a rule sees one customer_features row)'
                when list_contains(shaped.expression_classes, 'WINDOW')
                    then 'uses a window function (a rule sees one customer_features row)'
                when aggregate_calls.aggregate_function is not null
                    then 'uses the aggregate function ' || aggregate_calls.aggregate_function
                    || ' (a rule sees one customer_features row)'
                when len(shaped.qualified_columns) > 0
                    then 'qualifies a column ('
                    || array_to_string(from_json(shaped.qualified_columns[1], '["VARCHAR"]'), '.')
                    || '): write the bare customer_features column name'
            end as problem
        from shaped
        left join aggregate_calls
            on shaped.segment_id = aggregate_calls.segment_id

    ),

    {%- if features is not none %}

        bound as (

            select
                segment_id,
                rule,
                problem,
                case
                    when problem is null
                        then cast(json_serialize_plan(
                            'select typeof((' || rule || ')) as rule_type from {{ features }}'
                        ) as json)
                end as plan
            from shape_checked

        ),

        final as (

            select
                segment_id,
                rule,
                case
                    when problem is not null then problem
                    when plan ->> 'error' = 'true'
                        then 'does not bind against {{ features.identifier }}: '
                        || coalesce(plan ->> 'error_message', 'unknown error')
                    when coalesce(plan ->> '$.plans[0].expressions[0].value.value', '?') <> 'BOOLEAN'
                        then 'is not a boolean expression (its type is '
                        || coalesce(plan ->> '$.plans[0].expressions[0].value.value', 'unknown') || ')'
                end as problem
            from bound

        )

    {%- else %}

        final as (

            select * from shape_checked

        )

    {%- endif %}

    select
        segment_id,
        rule,
        regexp_replace(problem, '\s+', ' ', 'g') as problem
    from final
    order by segment_id
{% endmacro %}


{% macro segment_rule_filter(segment_ids) %}
    {#- The WHERE condition picking the rules to check: active ones, or exactly segment_ids. -#}
    {%- if segment_ids is none -%}
        is_active
    {%- elif segment_ids | length == 0 -%}
        false
    {%- else -%}
        segment_id in (
            {%- for segment_id in segment_ids -%}
                {{ sql_string_literal(segment_id) }}{% if not loop.last %}, {% endif %}
            {%- endfor -%}
        )
    {%- endif -%}
{% endmacro %}
