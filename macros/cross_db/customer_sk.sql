{% macro customer_sk_from_key(customer_key) %}
    {#-
        The integer form of a customer_key ('cus_' + 16 hex digits): the same 64 bits as an
        unsigned integer. Intermediate models join and group on it (a 64-bit integer is about
        twice as cheap to write, hash and compare as the 20-character text at 1M customers,
        docs/benchmarks.md); public marts publish customer_key (customer_key_from_sk).
    -#}
    {{ return(adapter.dispatch('customer_sk_from_key')(customer_key)) }}
{% endmacro %}

{% macro default__customer_sk_from_key(customer_key) %}
    {#- DuckDB: a '0x' hex literal casts to UBIGINT. -#}
    cast('0x' || substr({{ customer_key }}, 5) as ubigint)
{%- endmacro %}

{% macro spark__customer_sk_from_key(customer_key) %}
    {#- Spark has no unsigned 64-bit type: DECIMAL(20, 0) holds every value. -#}
    cast(conv(substr({{ customer_key }}, 5), 16, 10) as decimal(20, 0))
{%- endmacro %}

{% macro customer_key_from_sk(customer_sk) %}
    {#- The customer_key of a customer_sk (the inverse of customer_sk_from_key). -#}
    {{ return(adapter.dispatch('customer_key_from_sk')(customer_sk)) }}
{% endmacro %}

{% macro default__customer_key_from_sk(customer_sk) %}
    'cus_' || lpad(lower(hex({{ customer_sk }})), 16, '0')
{%- endmacro %}

{% macro spark__customer_key_from_sk(customer_sk) %}
    concat('cus_', lpad(lower(conv(cast({{ customer_sk }} as string), 10, 16)), 16, '0'))
{%- endmacro %}
