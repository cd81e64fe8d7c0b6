"""Customer models behind the dbt Python models in python_models/marts/ml/ (CLV, churn)."""
