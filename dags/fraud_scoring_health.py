"""
### Health check of the fraud scoring job

Every 5 minutes, checks that the Flink scoring job

* is **running**,
* completed a **checkpoint** recently (its Iceberg and Kafka sinks commit on checkpoints),
* is not **restarting** over and over,
* keeps up: the **consumer lag** on `credit_card_transactions` stays under a bound,

and fails with a message saying which of these is wrong.

A job that is not running is started again (`restart_if_down`, on by default) from its newest completed
checkpoint or savepoint (nothing lost, nothing repeated), with the scoring config and parallelism of its
last run (recorded beside its savepoints at each submission, so a restart of the Flink cluster does not
lose them). Once it has completed a checkpoint, the state of earlier runs is pruned as after a deploy.
Two guards:

* after `max_restarts` restarts within `restart_window_minutes` the DAG stops restarting and fails,
  saying the job needs a person (a job that dies again after every restart is not restarted forever);
* the check runs in the `SCORING_JOB_POOL` pool (one slot), as does the deploy's job swap: it never sees
  a job that a deploy has just stopped as dead.

A job never deployed (no run record) is not started: this DAG skips until `fraud_scoring_deploy` ran.
A restart after the job was down longer than the Kafka transaction timeout (`KAFKA_TRANSACTION_TIMEOUT_MS`,
15 min; the schedule restarts a dead job within ~6) fails the run after restarting, saying what Kafka may
have lost (`job_health.late_restart_warning`).

It also announces new scored data: when the snapshots committed to the Iceberg table
`scored_transactions` since the last check added rows, the `publish_new_data` task updates the asset
the marts DAG (`fraud_marts`) is scheduled on.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
import structlog
from airflow.sdk import Param, dag, task

from include import settings
from include.assets import SCORED_TRANSACTIONS
from include.failure_notices import task_defaults

# Task logs are Airflow's JSON lines (structlog): keyword arguments become fields of the line.
log = structlog.get_logger(__name__)

RESTARTS_SEEN = "fraud_scoring_restarts_seen"
SNAPSHOT_SEEN = "fraud_scored_transactions_snapshot_seen"
# When this DAG restarted the job (epoch seconds, JSON list): what the restart guard counts.
RESTARTED_AT = "fraud_scoring_health_restarted_at"


@dag(
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "flink", "health"],
    is_paused_upon_creation=False,
    # A restart waits up to 5 min for its first checkpoint; a try never outlives the next two schedules.
    default_args=task_defaults(execution_timeout=timedelta(minutes=12), retry_delay=timedelta(seconds=30)),
    params={
        "restart_if_down": Param(True, type="boolean"),
        "max_restarts": Param(3, type="integer", minimum=0),
        "restart_window_minutes": Param(60, type="integer", minimum=1),
        "max_checkpoint_age_s": Param(120, type="integer", minimum=10),
        "max_new_restarts": Param(3, type="integer", minimum=0),
        "max_consumer_lag": Param(100_000, type="integer", minimum=0),
    },
    doc_md=__doc__,
)
def fraud_scoring_health():
    @task(pool=settings.get("SCORING_JOB_POOL"))
    def check_job() -> dict:
        import json
        import time

        from airflow.sdk import Variable, get_current_context
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from include import airflow_connections, job_health, restore_points, scoring_job

        airflow_connections.export_to_settings()
        params = get_current_context()["params"]
        deployment = scoring_job.Deployment.platform()
        rest = scoring_job.flink()
        if not scoring_job.running(deployment, rest):
            if restore_points.last_run(deployment.job_name) is None and not rest.jobs(deployment.job_name):
                raise AirflowSkipException(f"{deployment.job_name} was never deployed: trigger fraud_scoring_deploy")
            if params["restart_if_down"]:
                guard = job_health.RestartGuard(params["max_restarts"], params["restart_window_minutes"] * 60)
                now = time.time()
                recent = guard.recent(json.loads(Variable.get(RESTARTED_AT, default="[]")), now)
                if not guard.allows(recent, now):
                    raise AirflowFailException(
                        f"{deployment.job_name} is down after {len(recent)} restarts by this DAG in the last "
                        f"{params['restart_window_minutes']} min: not restarting it again; it needs a person "
                        f"(Flink's exceptions of its last run, the TaskManager log). Trigger fraud_scoring_deploy "
                        f"once fixed."
                    )
                Variable.set(RESTARTED_AT, json.dumps([*recent, now]))
                stored = restore_points.stored(deployment.job_name)
                down_s = now - max(stored)[0] / 1000 if stored else 0.0
                job_id, resume_from = scoring_job.restart(deployment, rest)
                log.warning(
                    "job was down: restarted",
                    deployment=deployment.job_name,
                    job_id=job_id,
                    resumed_from=resume_from or "the committed Kafka offsets",
                )
                rest.checkpoint(job_id, timeout_s=300)
                scoring_job.prune_state(deployment, job_id)
                timeout_s = settings.get_int("KAFKA_TRANSACTION_TIMEOUT_MS") / 1000
                if warning := job_health.late_restart_warning(down_s, timeout_s):
                    raise AirflowFailException(f"restarted as {job_id}, but {warning}")
        bounds = job_health.Bounds(
            params["max_checkpoint_age_s"], params["max_new_restarts"], params["max_consumer_lag"]
        )
        seen = Variable.get(RESTARTS_SEEN, default=None)
        problems, figures = job_health.problems(
            rest, deployment.job_name, deployment.transactions_topic, bounds, int(seen) if seen is not None else None
        )
        if "restarts" in figures:
            Variable.set(RESTARTS_SEEN, str(figures["restarts"]))
        log.info("health figures", deployment=deployment.job_name, **figures)
        if problems:
            raise AirflowFailException("scoring job unhealthy: " + "; ".join(problems))
        return figures

    @task(outlets=[SCORED_TRANSACTIONS])
    def publish_new_data() -> int:
        """Updates the scored-transactions asset if the snapshots committed since the last one seen added
        rows; returns how many. The idle job commits empty snapshots every checkpoint, and compaction's
        `replace` snapshots rewrite rows without adding any: neither counts."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowSkipException
        from pyiceberg.table.snapshots import Operation, ancestors_between_ids

        from include import airflow_connections
        from include.lakehouse import iceberg_catalog
        from include.scoring_job import Deployment

        airflow_connections.export_to_settings()
        table = iceberg_catalog().load_table(Deployment.platform().table("scored_transactions"))
        current = table.current_snapshot()
        seen = Variable.get(SNAPSHOT_SEEN, default=None)
        if current is None or seen == str(current.snapshot_id):
            raise AirflowSkipException("no snapshot since the last check")
        # Walks back from the current snapshot to the one seen (all of them if that one expired or none was).
        new_snapshots = ancestors_between_ids(int(seen) if seen else None, current.snapshot_id, table.metadata)
        added = sum(
            int(s.summary.get("added-records") or 0) for s in new_snapshots if s.summary.operation != Operation.REPLACE
        )
        Variable.set(SNAPSHOT_SEEN, str(current.snapshot_id))
        if not added:
            raise AirflowSkipException("only empty or compaction snapshots since the last check")
        return added

    check_job() >> publish_new_data()


fraud_scoring_health()
