{% macro erased_customer_leaks(marts) %}
    {#- The rows of the marts named in `marts` (models with a customer_key) whose customer_key
        an erasure request reaches through any merged identifier
        (int_identity_erased_customer_keys): one row (mart, customer_key) per leak. The body of
        the singular tests assert_no_erased_customer_in_*. -#}
    with

    erased as (

        select customer_key from {{ ref('int_identity_erased_customer_keys') }}

    ),

    published as (

        {% for mart in marts %}
            select
                '{{ mart }}' as mart,
                customer_key
            from {{ ref(mart) }}
            {% if not loop.last %}union all{% endif %}
        {% endfor %}

    )

    select
        published.mart,
        published.customer_key
    from published
    inner join erased
        on published.customer_key = erased.customer_key
{% endmacro %}
