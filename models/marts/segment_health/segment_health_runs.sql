-- The manifest of segment-health runs: one row per as_of_date the health models were built
-- at, with the one before it, so every health table names the run it compares with (even
-- when its own first run wrote no rows, as segment_migration's does) and a BI tool can list
-- the runs. Also what the run saw: customers, segments and memberships.
-- Incremental, forward only: a rerun at the same as_of_date replaces its row (pre-hook
-- health_rewind); an earlier date stops the build; segment_membership_history must have been
-- built at this as_of_date.

{{ config(**health_incremental_config()) }}

{%- do health_incremental_guards() %}
{%- set as_of = as_of_date_sql() %}

-- Built after the history it vouches for (the guard above reads it):
-- depends_on: {{ ref('segment_membership_history') }}

with

{{ import_ctes(['segment_membership', 'customer_features']) }},

previous_runs as (

    {% if is_incremental() -%}
        select max(as_of_date) as previous_as_of_date from {{ this }}
        where as_of_date < {{ as_of }}
    {%- else -%}
        select cast(null as date) as previous_as_of_date
    {%- endif %}

),

population as (

    select count(*) as customers from customer_features

),

membership_counts as (

    select
        count(distinct segment_id) as segments,
        count(*) as memberships,
        {{ as_of }} as as_of_date
    from segment_membership

),

final as (

    select
        population.customers,
        membership_counts.segments,
        membership_counts.memberships,
        membership_counts.as_of_date,
        previous_runs.previous_as_of_date
    from population
    cross join membership_counts
    cross join previous_runs

)

select * from final
