{% macro segment_membership_history_follow_keys() %}
    {#-
        Pre-hook of segment_membership_history, after the rewind: moves the spells of every
        customer_key a merge retired (customer_key_successors) to the key that carries on its
        customer, and joins spells of one customer and segment that now overlap or touch into
        one (earliest valid_from, open if any was open, else the latest valid_to; the latest
        last_seen_on). Every other column (segment_id, family, group, ...) must match for two
        spells to join. Idempotent: once moved, no spell is left under a retired key.
        Renders nothing on the first run or a full refresh.
    -#}
    {%- if is_incremental() -%}
        {%- set timing = ['customer_key', 'valid_from', 'valid_to', 'last_seen_on'] -%}
        {%- set spell_columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- if column.name | lower not in timing -%}
                {%- do spell_columns.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set partition = (['customer_key'] + spell_columns) | join(', ') -%}
        {%- set moves = this.identifier ~ '__key_moves' -%}
        {%- set followed = this.identifier ~ '__followed' -%}
        {%- set open_end = "cast('9999-12-31' as date)" -%}
        create or replace temporary table {{ moves }} as
        select previous_customer_key, customer_key
        from {{ ref('customer_key_successors') }}
        where previous_customer_key in (select customer_key from {{ this }});

        create or replace temporary table {{ followed }} as
        with moved as (
            select
                coalesce({{ moves }}.customer_key, spells.customer_key) as customer_key,
                {% for column in spell_columns %}spells.{{ column }}, {% endfor %}
                spells.valid_from,
                spells.valid_to,
                spells.last_seen_on
            from {{ this }} as spells
            left join {{ moves }}
                on spells.customer_key = {{ moves }}.previous_customer_key
            where
                spells.customer_key in (select previous_customer_key from {{ moves }})
                or spells.customer_key in (select customer_key from {{ moves }})
        ),
        -- One order, numbered once: both windows below must see ties in the same order.
        ordered as (
            select
                *,
                row_number() over (
                    partition by {{ partition }}
                    order by valid_from, coalesce(valid_to, {{ open_end }})
                ) as spell_order
            from moved
        ),
        reached as (
            select
                *,
                max(coalesce(valid_to, {{ open_end }})) over (
                    partition by {{ partition }}
                    order by spell_order
                    rows between unbounded preceding and 1 preceding
                ) as reached_until
            from ordered
        ),
        islands as (
            select
                *,
                sum(case when reached_until is null or valid_from > reached_until then 1 else 0 end)
                    over (
                        partition by {{ partition }}
                        order by spell_order
                        rows between unbounded preceding and current row
                    ) as island
            from reached
        )
        select
            {{ partition }},
            min(valid_from) as valid_from,
            case when count(*) > count(valid_to) then null else max(valid_to) end as valid_to,
            max(last_seen_on) as last_seen_on
        from islands
        group by {{ partition }}, island;

        delete from {{ this }} where customer_key in (
            select previous_customer_key from {{ moves }}
            union
            select customer_key from {{ moves }}
        );

        insert into {{ this }} ({{ partition }}, valid_from, valid_to, last_seen_on)
        select {{ partition }}, valid_from, valid_to, last_seen_on from {{ followed }};

        drop table {{ followed }};
        drop table {{ moves }}
    {%- endif -%}
{% endmacro %}
