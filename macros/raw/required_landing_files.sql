{% macro required_landing_files() %}
    {#- Landing-file names of the raw-contract sources with meta required_file: true. -#}
    {%- set files = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.meta.get('required_file') -%}
                {%- do files.append(node.meta.get('landing_file', node.name)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(files | sort) }}
{% endmacro %}
