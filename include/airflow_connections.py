"""Inside Airflow, the services' endpoints and credentials come from Airflow connections.

Locally the connections are the `AIRFLOW_CONN_*` lines of include/platform.env, built from the
same settings the platform's clients read; on a cluster they may live in a secrets backend instead.
`export_to_settings()`, called first by every task that reaches a service through include/, writes
each connection over the matching platform settings in the task's environment (include/settings.py lets
the environment win), so Flink REST, Kafka, Trino, DynamoDB, S3, the Iceberg catalog and MLflow are all
reached the way the connections say.
"""

from __future__ import annotations

import os

from include import settings

KAFKA, FLINK, TRINO, AWS, ICEBERG_CATALOG, MLFLOW = (
    "kafka_default",
    "flink_default",
    "trino_default",
    "aws_default",
    "iceberg_catalog",
    "mlflow_default",
)


def settings_from_connections() -> dict[str, str]:
    from airflow.sdk import BaseHook

    kafka, flink, trino, aws, catalog, mlflow = (
        BaseHook.get_connection(conn_id) for conn_id in (KAFKA, FLINK, TRINO, AWS, ICEBERG_CATALOG, MLFLOW)
    )
    endpoints = aws.extra_dejson.get("service_config", {})
    return {
        "KAFKA_BOOTSTRAP": kafka.extra_dejson["bootstrap.servers"],
        "KAFKA_SECURITY_PROTOCOL": kafka.extra_dejson.get("security.protocol", "PLAINTEXT"),
        "KAFKA_SASL_MECHANISM": kafka.extra_dejson.get("sasl.mechanism", ""),
        "KAFKA_USERNAME": kafka.extra_dejson.get("sasl.username", ""),
        "KAFKA_PASSWORD": kafka.extra_dejson.get("sasl.password", ""),
        "FLINK_REST_URL": flink.host.rstrip("/"),  # an http connection whose host is the whole URL
        # The client certificate its REST API asks for (mutual TLS), as the http provider takes it.
        "FLINK_REST_CA_FILE": str(flink.extra_dejson.get("verify", "")),
        "FLINK_REST_CLIENT_CERT": str(flink.extra_dejson.get("cert", "")),
        "TRINO_URL": f"{trino.extra_dejson.get('protocol', 'http')}://{trino.host}:{trino.port}",
        "TRINO_USER": trino.login,
        "TRINO_PASSWORD": trino.password or "",
        "TRINO_CA_FILE": str(trino.extra_dejson.get("verify", "")),
        "AWS_ACCESS_KEY_ID": aws.login or "",
        "AWS_SECRET_ACCESS_KEY": aws.password or "",
        "AWS_REGION": aws.extra_dejson["region_name"],
        "S3_ENDPOINT": endpoints.get("s3", {}).get("endpoint_url", ""),
        "DYNAMODB_ENDPOINT": endpoints.get("dynamodb", {}).get("endpoint_url", ""),
        "ICEBERG_CATALOG_JDBC_URL": f"jdbc:postgresql://{catalog.host}:{catalog.port}/{catalog.schema}",
        "POSTGRES_USER": catalog.login,
        "POSTGRES_PASSWORD": catalog.password,
        "MLFLOW_TRACKING_URI": mlflow.host.rstrip("/"),  # an http connection whose host is the whole URL
        "MLFLOW_TRACKING_USERNAME": mlflow.login,
        "MLFLOW_TRACKING_PASSWORD": mlflow.password or "",
    }


def export_to_settings() -> None:
    os.environ.update(settings_from_connections())
    settings.all_settings.cache_clear()  # settings are read once per process: read them again
