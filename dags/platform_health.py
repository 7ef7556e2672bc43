"""
### Platform health

Checks every service the fraud platform depends on, through Airflow connections (`AIRFLOW_CONN_*`,
defined in `include/platform.env` from the same endpoints the platform's own clients in
`include/` read): the Kafka topics, the Flink session cluster, DynamoDB, the S3 warehouse bucket,
Trino's Iceberg catalog and MLflow's model registry.

Each service is one task, so a red task names the broken service. Runs every 30 minutes.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from include import settings
from include.failure_notices import task_defaults


@dag(
    schedule="*/30 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["platform", "health"],
    is_paused_upon_creation=False,
    default_args=task_defaults(execution_timeout=timedelta(minutes=5), retry_delay=timedelta(seconds=30)),
    doc_md=__doc__,
)
def platform_health():
    @task
    def kafka_topics_exist() -> dict[str, int]:
        from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

        topics = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn.list_topics(timeout=10).topics
        wanted = {settings.get(name) for name in ("TRANSACTIONS_TOPIC", "FEEDBACK_TOPIC", "ALERTS_TOPIC", "DLQ_TOPIC")}
        missing = wanted - set(topics)
        if missing:
            raise RuntimeError(f"Kafka topics missing: {sorted(missing)}")
        return {name: len(topics[name].partitions) for name in sorted(wanted)}

    @task
    def flink_cluster_has_a_taskmanager() -> dict:
        from airflow.providers.http.hooks.http import HttpHook

        overview = HttpHook(method="GET", http_conn_id="flink_default").run("/overview").json()
        if overview["taskmanagers"] < 1:
            raise RuntimeError("Flink has no TaskManager: jobs cannot run")
        return {k: overview[k] for k in ("taskmanagers", "slots-total", "slots-available", "jobs-running")}

    @task
    def dynamodb_answers() -> list[str]:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        client = AwsBaseHook(aws_conn_id="aws_default", client_type="dynamodb").get_conn()
        return client.list_tables()["TableNames"]

    @task
    def warehouse_bucket_exists() -> str:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        bucket = settings.get("ICEBERG_WAREHOUSE_BUCKET")
        if not S3Hook(aws_conn_id="aws_default").check_for_bucket(bucket):
            raise RuntimeError(f"the Iceberg warehouse bucket {bucket} does not exist")
        return bucket

    @task
    def trino_reads_the_iceberg_catalog() -> list[str]:
        from airflow.providers.trino.hooks.trino import TrinoHook

        return [row[0] for row in TrinoHook(trino_conn_id="trino_default").get_records("show schemas")]

    @task
    def mlflow_registry_answers() -> str:
        """Signed in as the platform; names the champion of the model the scoring config names (none: a
        deploy would score with the rules only)."""
        from airflow.providers.http.hooks.http import HttpHook

        from include.scoring import config as scoring_config

        name = scoring_config.load().registered_model
        found = (
            HttpHook(method="GET", http_conn_id="mlflow_default")
            .run("/api/2.0/mlflow/registered-models/search", data={"filter": f"name = '{name}'"})
            .json()
            .get("registered_models", [])
        )
        champion = [a["version"] for m in found for a in m.get("aliases", []) if a["alias"] == "champion"]
        return f"{name}: champion version {champion[0]}" if champion else f"{name}: no champion yet (rules only)"

    kafka_topics_exist()
    mlflow_registry_answers()
    flink_cluster_has_a_taskmanager()
    dynamodb_answers()
    warehouse_bucket_exists()
    trino_reads_the_iceberg_catalog()


platform_health()
