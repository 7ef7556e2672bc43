"""
### Deploy the fraud scoring job

Submits the Flink SQL job (`flink/sql/scoring/`) to the session cluster, or **upgrades** the running one
without losing or repeating a transaction: stop it with a savepoint (its sinks commit what they hold),
then start the new version from that savepoint. A job that is not RUNNING (restarting, failing...)
cannot take a savepoint: it is cancelled and the new version starts from its newest checkpoint or
savepoint. Done when the new job is RUNNING and has completed its first checkpoint; then the
checkpoints of earlier runs and all but the newest savepoints (`FLINK_SAVEPOINTS_KEPT`) are deleted.

Trigger it by hand (Airflow UI: ▶ with config):

| param | meaning |
|---|---|
| `parallelism` | scoring parallelism (Kafka has 4 partitions; 2 fits the local stack's 2 cores) |
| `scoring_config` | the scoring YAML to deploy (thresholds, weights, windows, model): one of the versioned files in `include/scoring/` (path or file name); its `version` is stored with every score |
| `from_savepoint` | start from this savepoint instead of the running job's (e.g. to roll back); it must lie under the platform's savepoint directory (`FLINK_SAVEPOINT_DIR`); a running job is still stopped with a savepoint first |
| `model_version` | score with this version of the registered model the config names (e.g. the previous one, to roll back); null: the version its alias names now (`models:/fraud@champion`: the champion). Either way the job runs that one version until the next deploy, stored with every score (`fraud/<version>`) |
| `require_approval` | wait, before the running job is touched, until a person approves the deploy (Airflow UI: the run's *Required Actions*, or the REST API's `hitlDetails`), naming the model and config it deploys; rejected, or unanswered for a day, nothing changes |
| `allow_non_restored_state` | start even if part of the savepoint's state belongs to no operator of the new version (Flink's `--allowNonRestoredState`; its error names the operator). That state is dropped with what it held (a Kafka source without its offsets reads on from the consumer group's committed ones), so nothing-lost-nothing-doubled is no longer guaranteed across this deploy. Only for a change of the SQL that Flink refuses to restore. |

A change of `include/scoring/scoring.yaml` reaches the job by running this DAG. It also runs, with its
defaults (so only after approval), whenever the fraud_model_training DAG makes a new model champion (the
asset `fraud_model_champion`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
import structlog
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, dag, task

from include import settings
from include.assets import FRAUD_MODEL_CHAMPION
from include.failure_notices import task_defaults

# Task logs are Airflow's JSON lines (structlog): keyword arguments become fields of the line.
log = structlog.get_logger(__name__)

DEFAULT_CONFIG = str(settings.REPO_ROOT / "include" / "scoring" / "scoring.yaml")


@dag(
    schedule=FRAUD_MODEL_CHAMPION,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "flink", "deploy"],
    is_paused_upon_creation=False,
    default_args=task_defaults(execution_timeout=timedelta(minutes=20), retry_delay=timedelta(seconds=20)),
    params={
        "parallelism": Param(2, type="integer", minimum=1, maximum=4),
        "scoring_config": Param(DEFAULT_CONFIG, type="string"),
        "from_savepoint": Param(None, type=["null", "string"]),
        "model_version": Param(None, type=["null", "integer"], minimum=1),
        "require_approval": Param(True, type="boolean"),
        "allow_non_restored_state": Param(False, type="boolean"),
    },
    doc_md=__doc__,
)
def fraud_scoring_deploy():
    @task
    def prepare() -> dict:
        """The params are allowed (include/deploy_inputs.py), the scoring config parses, its model is
        pinned to one registered version (include/model_registry.py), and the topics and DynamoDB tables
        exist. Nothing is stopped before this passes."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from include import airflow_connections, aws, deploy_inputs, model_registry, scoring_job
        from include.scoring import config as scoring_config
        from include.scoring.card_store import ensure_table

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        try:
            config_file = deploy_inputs.scoring_config(params["scoring_config"])
            from_savepoint = params["from_savepoint"] and deploy_inputs.savepoint(params["from_savepoint"])
            scoring = scoring_config.load(config_file)
            reference = deploy_inputs.model_reference(params["model_version"], scoring.model_uri)
            pinned_text, model = model_registry.pin(config_file.read_text(), reference)
        except (deploy_inputs.RefusedInput, model_registry.RegistryError) as refused:
            raise AirflowFailException(str(refused)) from None  # no retry: the same params are refused again
        deployment = scoring_job.Deployment.platform()
        deployment.create_topics()
        ensure_table(aws.dynamodb_client(), deployment.card_table)
        model_label = model.label if model else f"none (rules only: {reference or 'no model configured'})"
        log.info(
            "deploying",
            deployment=deployment.job_name,
            scoring_config=config_file.name,
            config_version=scoring.version,
            model=model_label,
        )
        return {
            "job_name": deployment.job_name,
            "scoring_config": str(config_file),
            "pinned_config": pinned_text,
            "from_savepoint": from_savepoint or None,
            "config_version": scoring.version,
            "model": model_label,
        }

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def approval_required() -> bool:
        """False skips the approval step only: replace_job still runs (its trigger rule)."""
        from airflow.sdk import get_current_context

        return get_current_context()["params"]["require_approval"]

    approve = ApprovalOperator(
        task_id="approve",
        subject="Deploy {{ ti.xcom_pull(task_ids='prepare')['model'] }} to the fraud scoring job?",
        body=(
            "Scoring config `{{ ti.xcom_pull(task_ids='prepare')['scoring_config'] }}` version "
            "{{ ti.xcom_pull(task_ids='prepare')['config_version'] }}, model "
            "**{{ ti.xcom_pull(task_ids='prepare')['model'] }}**, parallelism {{ params.parallelism }}. "
            "Approve stops the running job with a savepoint and starts this one from it."
        ),
        defaults="Reject",
        response_timeout=timedelta(days=1),
        execution_timeout=timedelta(days=1, minutes=10),  # the wait for a person, not the DAG's 20 min
        ignore_downstream_trigger_rules=True,  # rejected: nothing after it runs
    )

    @task(pool=settings.get("SCORING_JOB_POOL"), trigger_rule="none_failed_min_one_success")
    def replace_job(prepared: dict) -> str:
        """Stops the job if one runs (scoring_job.stop_for_upgrade) and submits the new version from the
        savepoint. One task in the job's pool, so the health DAG never finds the job stopped in between
        and restarts the old version. A retry after the submission stops the new job with a savepoint and
        submits it again: nothing lost, nothing doubled."""
        import tempfile

        from airflow.sdk import get_current_context

        from include import airflow_connections, scoring_job

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        savepoint, _ = scoring_job.stop_for_upgrade(from_savepoint=prepared["from_savepoint"])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as pinned:
            pinned.write(prepared["pinned_config"])
            pinned.flush()
            job_id = scoring_job.submit(
                scoring_config=pinned.name,
                parallelism=params["parallelism"],
                from_savepoint=savepoint,
                allow_non_restored_state=params["allow_non_restored_state"],
            )
        log.info(
            "submitted", deployment=prepared["job_name"], job_id=job_id, savepoint=savepoint, model=prepared["model"]
        )
        return job_id

    @task
    def wait_until_checkpointed(job_id: str) -> dict:
        """Triggers the new job's first checkpoint as soon as all its tasks run, and waits until it completes."""
        from include import airflow_connections, scoring_job

        airflow_connections.export_to_settings()
        rest = scoring_job.flink()
        rest.wait_for_state(job_id, {"RUNNING"}, timeout_s=180)
        return {"job_id": job_id, "checkpoint": rest.checkpoint(job_id, timeout_s=300)}

    @task
    def prune_old_state(checkpointed: dict) -> list[str]:
        """Deletes the checkpoints of earlier runs and all but the newest savepoints (FLINK_SAVEPOINTS_KEPT):
        the new run has completed a full checkpoint of its own, so no restart needs them."""
        from include import airflow_connections, scoring_job

        airflow_connections.export_to_settings()
        deleted = scoring_job.prune_state(scoring_job.Deployment.platform(), checkpointed["job_id"])
        log.info("deleted old state", deleted=deleted)
        return deleted

    prepared = prepare()
    replaced = replace_job(prepared)
    prepared >> approval_required() >> approve >> replaced
    prune_old_state(wait_until_checkpointed(replaced))


fraud_scoring_deploy()
