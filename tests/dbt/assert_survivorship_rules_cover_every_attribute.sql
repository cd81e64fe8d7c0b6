-- Every golden-record attribute (macro golden_record_attributes) has a row in seed
-- survivorship_rules. Rows returned = attributes without a rule: add them to the seed.

with

survivorship_rules as (

    select * from {{ ref('survivorship_rules') }}

),

attributes as (

    {% for attribute in golden_record_attributes() %}
        select '{{ attribute.name }}' as attribute_name
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select attributes.attribute_name
    from attributes
    left join survivorship_rules
        on attributes.attribute_name = survivorship_rules.attribute_name
    where survivorship_rules.attribute_name is null

)

select * from final
