"""
### Train, judge and promote the fraud model

Every week (and by hand), on the platform's own history in Iceberg (include/model_lifecycle.py):

1. **train_challenger**: the features the job stored with every score, labelled by the frauds confirmed
   by `labels_known_at` (the run's date unless given) and nothing later. Trains on the `training_days`
   before the evaluation period; registers the model as a new version of `model_name` in MLflow, with an
   MLflow run holding the windows, the Iceberg snapshot ids read, hyperparameters, code and library
   versions and the challenger's metrics. Skipped, with the reason, while the windows hold no
   confirmed fraud (a fresh platform).
2. **judge**: challenger and current champion scored on the most recent fully labelled period (the
   `evaluation_days` ending `feedback_delay_days` before `labels_known_at`), by the handbook's protocol
   (cards known compromised before each day left out). Promotion needs a gain of at least
   `min_gain_average_precision` in Average Precision and `min_gain_card_precision_at_100` in Card
   Precision@100; the version and the run record the decision and why.
3. **promote**: moves the alias `champion` to the challenger; skipped when the challenger was not
   better. **announce_champion** then updates the `fraud_model_champion` asset, which the deploy DAG
   runs on (the job then scores with the new champion once a person approves), if `model_name` is the
   model the platform's scoring config names.
4. **prune_registry**: keeps the newest `versions_kept` versions (and any with an alias), deleting the
   others and their files from the models bucket.

The MLflow UI (`MLFLOW_TRACKING_URI`) shows the runs (experiment `fraud_model_training`) and the
registry (model `fraud`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pendulum
import structlog
from airflow.sdk import Param, dag, task

from include import settings
from include.assets import FRAUD_MODEL_CHAMPION
from include.failure_notices import task_defaults
from include.scoring import config as scoring_config

# Task logs are Airflow's JSON lines (structlog): keyword arguments become fields of the line.
log = structlog.get_logger(__name__)

# The registered model the platform's scoring config scores with (model.uri: models:/<name>@champion).
MODEL_NAME = scoring_config.load().registered_model


@dag(
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "model", "mlflow"],
    is_paused_upon_creation=False,
    default_args=task_defaults(execution_timeout=timedelta(minutes=30)),
    params={
        "namespace": Param(settings.get("ICEBERG_NAMESPACE"), type="string"),
        "model_name": Param(MODEL_NAME, type="string", pattern=r"^[A-Za-z0-9_.-]+$"),
        "labels_known_at": Param(None, type=["null", "string"], format="date-time"),
        "training_days": Param(21, type="integer", minimum=1, maximum=180),
        "evaluation_days": Param(7, type="integer", minimum=1, maximum=31),
        "feedback_delay_days": Param(7, type="integer", minimum=0, maximum=60),
        "min_gain_average_precision": Param(0.01, type="number"),
        "min_gain_card_precision_at_100": Param(0.01, type="number"),
        "alert_budget_cards_per_day": Param(100, type="integer", minimum=1),
        "versions_kept": Param(10, type="integer", minimum=2),
    },
    doc_md=__doc__,
)
def fraud_model_training():
    @task
    def train_challenger() -> dict:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from include import airflow_connections, model_lifecycle
        from include.scoring.training import Windows

        airflow_connections.export_to_settings()
        context = get_current_context()
        params = context["params"]
        given = params["labels_known_at"]
        labels_known_at = datetime.fromisoformat(given) if given else context["dag_run"].run_after
        windows = Windows.ending(
            labels_known_at.astimezone(UTC),
            params["training_days"],
            params["evaluation_days"],
            params["feedback_delay_days"],
        )
        try:
            trained = model_lifecycle.train_challenger(
                params["namespace"], params["model_name"], windows, params["alert_budget_cards_per_day"]
            )
        except model_lifecycle.NotEnoughData as reason:
            log.info("nothing to train", reason=str(reason))
            raise AirflowSkipException(str(reason)) from None
        log.info("registered a challenger", model=trained["challenger"], metrics=trained["metrics"])
        return trained

    @task
    def judge(trained: dict) -> dict:
        from airflow.sdk import get_current_context

        from include import airflow_connections, model_lifecycle

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        margins = model_lifecycle.Margins(
            params["min_gain_average_precision"], params["min_gain_card_precision_at_100"]
        )
        judgement = model_lifecycle.judge_challenger(params["namespace"], trained, margins)
        log.info("judged", promote=judgement["promote"], reason=judgement["reason"])
        return {**judgement, "challenger": trained["challenger"]}

    @task
    def promote(judgement: dict) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from include import airflow_connections, model_registry

        if not judgement["promote"]:
            raise AirflowSkipException(f"the champion stays: {judgement['reason']}")
        airflow_connections.export_to_settings()
        challenger = model_registry.ModelRef(**judgement["challenger"])
        model_registry.make_champion(challenger)
        log.info("promoted", champion=challenger.label, was=judgement["champion_before"])
        return challenger.label

    @task(outlets=[FRAUD_MODEL_CHAMPION])
    def announce_champion(champion: str) -> str:
        """Updates the asset the deploy DAG runs on, when the champion is the platform's model's (a run
        on another model, as the tests train, deploys nothing)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        if get_current_context()["params"]["model_name"] != MODEL_NAME:
            raise AirflowSkipException(f"{champion} is not a version of {MODEL_NAME}, the model the job scores with")
        return champion

    # After promote, whether it promoted or not; skipped with the run when there was nothing to train.
    @task(trigger_rule="none_failed_min_one_success")
    def prune_registry(judgement: dict) -> list[str]:
        from airflow.sdk import get_current_context

        from include import airflow_connections, model_registry

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        deleted = model_registry.prune(judgement["challenger"]["name"], params["versions_kept"])
        log.info("deleted model versions", deleted=deleted)
        return deleted

    judged = judge(train_challenger())
    promoted = promote(judged)
    announce_champion(promoted)
    promoted >> prune_registry(judged)


fraud_model_training()
