"""
### Seed DynamoDB with card histories

Creates the card-history tables if needed and loads each card's recent transactions, with batch
writes, so the scorer knows the cards' habits from the first transaction on:

* `source = file`: a transaction file (`format = project`, the producer's JSON lines, or `handbook`,
  the Fraud Detection Handbook's Parquet), e.g. a bank's export of the last weeks;
* `source = iceberg`: rebuilt from what the pipeline wrote to `scored_transactions` (e.g. after the
  DynamoDB table was lost).

Safe to rerun: every card item is rewritten with the same content.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
import structlog
from airflow.sdk import Param, dag, task

from include import settings
from include.failure_notices import task_defaults

# Task logs are Airflow's JSON lines (structlog): keyword arguments become fields of the line.
log = structlog.get_logger(__name__)


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "dynamodb", "setup"],
    is_paused_upon_creation=False,
    default_args=task_defaults(execution_timeout=timedelta(minutes=30), retry_delay=timedelta(seconds=30)),
    params={
        "source": Param("iceberg", enum=["file", "iceberg"]),
        "path": Param(None, type=["null", "string"], description="the file, for source = file"),
        "format": Param("project", enum=["project", "handbook"]),
        "namespace": Param(settings.get("ICEBERG_NAMESPACE"), type="string"),
        "card_table": Param(settings.get("DYNAMODB_CARD_TABLE"), type="string"),
    },
    doc_md=__doc__,
)
def seed_dynamodb():
    @task
    def seed_card_histories() -> dict:
        from pathlib import Path

        from airflow.sdk import get_current_context

        from include import airflow_connections, seed
        from producer import files

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        if params["source"] == "file":
            if not params["path"]:
                raise ValueError("source = file needs a path")
            cards = seed.from_transactions(item.tx for item in files.read(Path(params["path"]), params["format"]))
        else:
            cards = seed.from_iceberg(params["namespace"])
        summary = seed.write(params["card_table"], cards)
        log.info("seeded", card_table=params["card_table"], **summary)
        return summary

    seed_card_histories()


seed_dynamodb()
