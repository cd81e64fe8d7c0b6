{% macro golden_record_attributes() %}
    {#- The golden record's attributes, in column order: the stg_crm__customers column, its
        type (text: the adapter's string type), and when its value counts as validated (rule validated_only). Only email has a
        validation check of its own (is_email_valid); the others are validated by staging's
        normalisation, so validated_only on them is the same as most_recent. -#}
    {%- set text_type = dbt.type_string() -%}
    {{ return([
        {'name': 'first_name', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'last_name', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'email', 'data_type': text_type, 'is_valid': 'coalesce(is_email_valid, false)'},
        {'name': 'phone', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'gender', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'birth_date', 'data_type': 'date', 'is_valid': 'true'},
        {'name': 'street_address', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'postal_code', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'city', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'region', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'country_code', 'data_type': text_type, 'is_valid': 'true'},
        {'name': 'loyalty_id', 'data_type': text_type, 'is_valid': 'true'},
    ]) }}
{% endmacro %}
