"""
### Iceberg maintenance

Two DAGs keep the tables the scoring job writes small, through Trino.

**`iceberg_snapshot_expiry`** (hourly). The job commits every checkpoint (10 s): 360 snapshots an hour
per table, and each commit writes a metadata file listing every snapshot the table keeps, so unexpired
snapshots make every commit slower and larger. It expires the snapshots older than
`ICEBERG_SNAPSHOT_RETENTION` (and deletes the files only they referenced). Time travel reaches that far
back: longer than any dbt build, whose staging views read the sources as of the build's start. The
tables delete their old metadata files themselves (`flink/sql/catalog.sql`).

**`iceberg_maintenance`** (nightly), for each table:

1. **delete dead letters** older than `DEAD_LETTER_RETENTION_DAYS` (and the oversized values kept with
   them): they are for investigating bad input, not history;
2. **compact** small files (`optimize`) — only partitions before today for `scored_transactions`, so
   the job's commits to today's partition never conflict with the rewrite;
3. **remove orphan files** older than 7 days (files of failed writes no snapshot references).

Each step only adds a new snapshot; the stream keeps writing meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import dag

from include import settings
from include.failure_notices import task_defaults

NAMESPACE = settings.get("ICEBERG_NAMESPACE")
# Table -> the partitions compacted nightly (the job keeps committing to today's scored_transactions).
TABLES = {
    "scored_transactions": "WHERE event_date < current_date",
    "dead_letters": "",
    "oversized_records": "",
    "fraud_feedback": "",
}
# Rows older than DEAD_LETTER_RETENTION_DAYS leave these tables, by the column saying when they arrived.
AGED_OUT = {"dead_letters": "detected_at", "oversized_records": "received_at"}
ORPHAN_RETENTION = "7d"
COMMON = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "max_active_runs": 1,
    "tags": ["fraud", "iceberg", "maintenance"],
    "is_paused_upon_creation": False,
    "default_args": {
        **task_defaults(execution_timeout=timedelta(minutes=30), retries=2, retry_delay=timedelta(minutes=2)),
        "conn_id": "trino_default",
    },
    "doc_md": __doc__,
}


@dag(schedule="@hourly", **COMMON)
def iceberg_snapshot_expiry():
    retention = settings.get("ICEBERG_SNAPSHOT_RETENTION")
    for table in TABLES:
        SQLExecuteQueryOperator(
            task_id=f"expire_snapshots_{table}",
            sql=f"ALTER TABLE {NAMESPACE}.{table} EXECUTE expire_snapshots(retention_threshold => '{retention}')",
        )


@dag(schedule="30 2 * * *", **COMMON)
def iceberg_maintenance():
    days = settings.get_int("DEAD_LETTER_RETENTION_DAYS")
    for table, where in TABLES.items():
        name = f"{NAMESPACE}.{table}"
        steps = []
        if table in AGED_OUT:
            steps.append(
                SQLExecuteQueryOperator(
                    task_id=f"age_out_{table}",
                    sql=f"DELETE FROM {name} WHERE {AGED_OUT[table]} < current_timestamp - INTERVAL '{days}' DAY",
                )
            )
        steps.append(
            SQLExecuteQueryOperator(
                task_id=f"compact_{table}",
                sql=f"ALTER TABLE {name} EXECUTE optimize(file_size_threshold => '64MB') {where}",
            )
        )
        steps.append(
            SQLExecuteQueryOperator(
                task_id=f"remove_orphan_files_{table}",
                sql=f"ALTER TABLE {name} EXECUTE remove_orphan_files(retention_threshold => '{ORPHAN_RETENTION}')",
            )
        )
        for before, after in zip(steps, steps[1:]):
            before >> after


iceberg_snapshot_expiry()
iceberg_maintenance()
