{% macro import_ctes(models) %}
    {#- One import CTE per model, named after it (`<model> as (select * from ref(model))`),
        comma-separated: the top of a `with` for models that import the same relations. -#}
    {%- for name in models %}
{{ name }} as (

    select * from {{ ref(name) }}

){% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
