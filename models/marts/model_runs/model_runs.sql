-- One row per dbt Python model and dbt invocation: whether it produced its output (ok),
-- produced it with a caveat (degraded), produced an empty or model-less output (skipped) or
-- hit an unexpected error and published an empty output (failed), and why. The Python models
-- append these rows themselves (segwarehouse.ml.run_log) to audit.ml_model_run_log, which
-- the on-run-start hook create_model_run_log() creates; DECISIONLOG "Python model run log".
-- The refs below only order this model after every Python model of the project:
-- depends_on: {{ ref('int_identity_match_model') }}
-- depends_on: {{ ref('int_identity_probabilistic_links') }}
-- depends_on: {{ ref('int_identity_components') }}
-- depends_on: {{ ref('int_churn_model') }}
-- depends_on: {{ ref('customer_churn_scores') }}
-- depends_on: {{ ref('model_metrics') }}
-- depends_on: {{ ref('model_feature_importance') }}
-- depends_on: {{ ref('clv_model_params') }}
-- depends_on: {{ ref('customer_clv') }}
-- depends_on: {{ ref('cluster_diagnostics') }}
-- depends_on: {{ ref('customer_clusters') }}
-- depends_on: {{ ref('cluster_profiles') }}
-- depends_on: {{ ref('lookalike_scores') }}
-- depends_on: {{ ref('campaign_lift') }}
-- depends_on: {{ ref('experiment_results') }}

with

run_log as (

    select * from {{ source('ml_run_log', 'ml_model_run_log') }}

),

run_context as (

    select invocation_id from {{ ref('int_run_context') }}

),

-- A model run twice in one invocation (dbt retry of a failed node) keeps its last row.
last_per_invocation as (

    select
        invocation_id,
        model_name,
        status,
        reason,
        output_rows,
        seconds,
        as_of_date,
        recorded_at
    from (
        select
            *,
            row_number() over (
                partition by invocation_id, model_name order by recorded_at desc
            ) as run_rank
        from run_log
    ) as ranked_runs
    where run_rank = 1

),

final as (

    select
        runs.invocation_id,
        runs.model_name,
        runs.status,
        runs.reason,
        runs.output_rows,
        runs.seconds,
        runs.as_of_date,
        runs.recorded_at,
        coalesce(runs.invocation_id = run_context.invocation_id, false)
            as is_current_invocation
    from last_per_invocation as runs
    left join run_context on runs.invocation_id = run_context.invocation_id

)

select * from final
