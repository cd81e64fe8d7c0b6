-- Every change of customer_key between runs, appended run by run: old key -> new key, so
-- history stored under the old key (segment membership, exports) can follow the customer.
-- change_type 'merge': the old key is gone (its identifiers joined an older customer);
-- 'split': the old key still exists and some of its identifiers moved (a guard or the cap now
-- separates them). Keys of erased customers are absent.
-- Protected from --full-refresh (full_refresh=false, like int_identity_key_history): a full
-- rebuild keeps the changes of earlier runs and logs the differences between the freshly
-- resolved keys and the stored ones at its as_of_date.

{{ config(
    materialized='incremental',
    unique_key=['previous_customer_key', 'customer_key', 'changed_on'],
    on_schema_change='fail',
    full_refresh=false,
    post_hook="{{ customer_key_changes_prune() }}",
) }}

with

key_history as (

    select * from {{ ref('int_identity_key_history') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

changes as (

    select
        previous_customer_key,
        customer_key,
        key_changed_on as changed_on,
        count(*) as moved_identifiers
    from key_history
    where key_changed_on = {{ as_of_date_sql() }}
    group by previous_customer_key, customer_key, key_changed_on

),

final as (

    select
        changes.previous_customer_key,
        changes.customer_key,
        changes.moved_identifiers,
        changes.changed_on,
        case
            when changes.previous_customer_key in (
                select resolved_nodes.customer_key from resolved_nodes
            ) then 'split'
            else 'merge'
        end as change_type
    from changes
    where changes.customer_key not in (
        select erased_customer_keys.customer_key from erased_customer_keys
    )

)

select * from final
