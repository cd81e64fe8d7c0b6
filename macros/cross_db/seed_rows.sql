{% macro spark__load_csv_rows(model, agate_table) %}
    {#-
        dbt-spark's seed loader, with the values written as literals. dbt-spark's session
        cursor pastes each bound value between quotes without escaping ('%s' % value): a quote
        in a seed value breaks the insert, and Spark reads a backslash in a literal as an
        escape (a regex `\d` in a seed would load as `d`). Here each value is a Spark literal
        (spark__string_literal) cast to the column type, as dbt-spark casts its bindings.
    -#}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ seed_value_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}


{% macro seed_value_literal(value) %}
    {#- One seed value as a SQL literal: null, true/false, a number as written, else a string. -#}
    {%- if value is none -%}
        {{ return('null') }}
    {%- elif value is sameas true or value is sameas false -%}
        {{ return('true' if value else 'false') }}
    {%- elif value is number -%}
        {{ return(value | string) }}
    {%- endif -%}
    {{ return(string_literal(value | string)) }}
{% endmacro %}
