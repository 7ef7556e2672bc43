"""Airflow assets: data the DAGs produce and react to, named by the Trino table that holds them."""

from urllib.parse import urlsplit

from airflow.sdk import Asset

from include import settings
from include.scoring import config as scoring_config

_TRINO = f"trino://{urlsplit(settings.get('TRINO_URL')).netloc}/{settings.get('ICEBERG_CATALOG_NAME')}"
_NAMESPACE = settings.get("ICEBERG_NAMESPACE")

# Updated by the health DAG when the scoring job has committed new rows; the marts DAG runs on it.
SCORED_TRANSACTIONS = Asset(name="scored_transactions", uri=f"{_TRINO}/{_NAMESPACE}/scored_transactions")
# Updated by the marts DAG after a successful dbt build (its daily KPIs are the headline mart).
FRAUD_MARTS = Asset(name="fraud_marts", uri=f"{_TRINO}/{_NAMESPACE}_marts/fct_daily_fraud_kpis")
# Updated by the training DAG when it moves the `champion` alias of the model the scoring config names.
# The deploy DAG runs on it (after a person approves), so the job scores with the new champion.
FRAUD_MODEL_CHAMPION = Asset(
    name="fraud_model_champion", uri=f"models:/{scoring_config.load().registered_model}@champion"
)
