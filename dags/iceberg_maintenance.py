"""
### Iceberg maintenance

Streaming writes commit small files every checkpoint. Every night, through Trino, for each table the
scoring job writes:

1. **compact** small files (`optimize`) — only partitions before today for `scored_transactions`, so
   the job's commits to today's partition never conflict with the rewrite;
2. **expire snapshots** older than 7 days (time travel stays possible within a week);
3. **remove orphan files** older than 7 days (files of failed writes no snapshot references).

Each step only adds a new snapshot; the stream keeps writing meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import dag

from include import config

NAMESPACE = config.get("ICEBERG_NAMESPACE")
TABLES = {
    "scored_transactions": "WHERE event_date < current_date",
    "rejected_transactions": "",
    "fraud_feedback": "",
}
RETENTION = "7d"


@dag(
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "iceberg", "maintenance"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "conn_id": "trino_default"},
    doc_md=__doc__,
)
def iceberg_maintenance():
    for table, where in TABLES.items():
        name = f"{NAMESPACE}.{table}"
        compact = SQLExecuteQueryOperator(
            task_id=f"compact_{table}", sql=f"ALTER TABLE {name} EXECUTE optimize(file_size_threshold => '64MB') {where}")
        expire = SQLExecuteQueryOperator(
            task_id=f"expire_snapshots_{table}",
            sql=f"ALTER TABLE {name} EXECUTE expire_snapshots(retention_threshold => '{RETENTION}')")
        orphans = SQLExecuteQueryOperator(
            task_id=f"remove_orphan_files_{table}",
            sql=f"ALTER TABLE {name} EXECUTE remove_orphan_files(retention_threshold => '{RETENTION}')")
        compact >> expire >> orphans


iceberg_maintenance()
