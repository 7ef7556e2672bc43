"""The whole chain of jars: a Flink SQL job on the session cluster reads Kafka and writes Iceberg
(checkpointing on), and Trino then returns exactly the rows produced."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from include import kafka_admin, kafka_config, settings
from include.flink_jobs import submit_sql
from include.flink_rest import FlinkRest
from include.lakehouse import iceberg_catalog, trino_query

SQL = [settings.REPO_ROOT / "flink" / "sql" / "catalog.sql", Path(__file__).parent / "sql" / "kafka_to_iceberg.sql"]
ROWS = 1_000

pytestmark = pytest.mark.slow


def _produce(topic: str) -> set[tuple[str, str, Decimal]]:
    producer = Producer(kafka_config.client_config({"enable.idempotence": True}))
    rows = {(f"tx-{i:05d}", f"card-{i % 37}", Decimal(i) / 4) for i in range(ROWS)}
    for tx_id, card_id, amount in rows:
        value = {"tx_id": tx_id, "card_id": card_id, "amount": float(amount)}
        producer.produce(topic, key=card_id, value=json.dumps(value))
    assert producer.flush(30) == 0
    return rows


def test_kafka_to_iceberg_through_flink_then_trino_reads_exactly_the_rows(unique_name):
    kafka_admin.create_topics({unique_name: (2, {})})
    flink = FlinkRest.platform()
    job_id = None
    try:
        produced = _produce(unique_name)
        job_id = submit_sql(
            SQL,
            variables={
                "JOB_NAME": unique_name,
                "SOURCE_TOPIC": unique_name,
                "TARGET_NAMESPACE": unique_name,
                "TARGET_TABLE": "chain",
            },
        )
        flink.wait_for_state(job_id, {"RUNNING"})

        count, deadline = 0, time.monotonic() + 180
        while count < ROWS and time.monotonic() < deadline:
            time.sleep(3)
            count = trino_query(f"select count(*) from {unique_name}.chain")[0][0]
        # One more checkpoint after all rows arrived: nothing may be committed twice.
        flink.checkpoint(job_id)

        got = trino_query(f"select tx_id, card_id, amount from {unique_name}.chain")
        assert len(got) == ROWS
        assert set(got) == produced
    finally:
        if job_id:
            flink.cancel(job_id)
        kafka_admin.delete_topics([unique_name])
        catalog = iceberg_catalog()
        if (unique_name,) in catalog.list_namespaces():
            for table in catalog.list_tables(unique_name):
                catalog.purge_table(table)
            catalog.drop_namespace(unique_name)
