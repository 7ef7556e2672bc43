"""
### Fraud marts (dbt on Trino) and the fraud report

Builds the dbt project `dbt_project/` over the Iceberg tables the scoring job writes, through Trino:
models **and** their tests, after a check of the sources' freshness. One `dbt build` runs the whole
project (task `dbt_build.dbt_producer_watcher`, astronomer-cosmos' watcher mode); every model shows as a
`run` and a `test` task of its own that takes its result from that build, so a failed model or test is
the task that turns red, and a retry of that task rebuilds just its model. Tests on the sources and
between marts run in the same build: when one fails, the producer task fails. Then the report page
served at `REPORT_URL` is regenerated.

Every dbt node of a run reads the sources as they were when the run started (dbt var `as_of`, Iceberg
time travel in the staging views): a mart and the tests reconciling it with its sources see the same
snapshot while the stream keeps committing.

Runs every night, and whenever the health DAG announces new scored data (the `scored_transactions`
asset, include/assets.py). The incremental `fct_daily_fraud_kpis` rebuilds only the days that got rows
or labels since its last run; the other marts are rebuilt whole.

Query the marts in Trino, schema `fraud_marts` (e.g. `select * from fraud_marts.fct_daily_fraud_kpis`).
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from airflow.task.trigger_rule import TriggerRule
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import PRODUCER_WATCHER_TASK_ID, ExecutionMode, InvocationMode, LoadMode, TestBehavior

from include import settings
from include.assets import FRAUD_MARTS, SCORED_TRANSACTIONS
from include.failure_notices import PlatformAlertNotifier, task_defaults

DBT_PROJECT = Path(os.environ.get("DBT_PROJECT_DIR", settings.REPO_ROOT / "dbt_project"))
DBT = Path(settings.get("VENV_DIR")) / "dbt" / "bin" / "dbt"
# Written by `dbt parse` (make up does it): cosmos reads the graph from it instead of running dbt on
# every DAG parse.
MANIFEST = DBT_PROJECT / "target" / "manifest.json"
# The run's start as a Trino timestamp with time zone: the Iceberg snapshot all its dbt tasks read.
AS_OF = "{{ dag_run.start_date.isoformat(sep=' ') }}"


# dbt reaches Trino through the trino_default connection: templated, so each task resolves it when it runs.
TRINO_FROM_CONNECTION = {
    "TRINO_HOST": "{{ conn.trino_default.host }}",
    "TRINO_PORT": "{{ conn.trino_default.port }}",
    "TRINO_USER": "{{ conn.trino_default.login }}",
    "TRINO_PASSWORD": "{{ conn.trino_default.password }}",
    "TRINO_CA_FILE": "{{ conn.trino_default.extra_dejson.verify }}",
}


def dbt_environment() -> dict[str, str]:
    """What profiles.yml and the models read besides the Trino endpoint."""
    s = settings.all_settings()
    return {
        "ICEBERG_CATALOG_NAME": s["ICEBERG_CATALOG_NAME"],
        "ICEBERG_NAMESPACE": s["ICEBERG_NAMESPACE"],
        "DBT_SCHEMA": s["ICEBERG_NAMESPACE"],
    }


def run_dbt(args: list[str], trino: dict[str, str]) -> None:
    """Runs the dbt CLI on the project, printing its output; fails when dbt does."""
    env = {**os.environ, **dbt_environment(), **trino}
    result = subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-5000:])
    if result.returncode != 0:
        raise RuntimeError(f"dbt {args[0]} failed:\n{(result.stdout + result.stderr)[-2000:]}")


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"), assets=[SCORED_TRANSACTIONS]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "dbt", "trino", "report"],
    is_paused_upon_creation=False,
    default_args=task_defaults(execution_timeout=timedelta(minutes=30)),
    doc_md=__doc__,
)
def fraud_marts():
    @task
    def source_freshness(trino: dict[str, str]) -> None:
        """Fails when a source is older than its freshness error bound (dbt_project/models/staging/_sources.yml).
        `trino`: TRINO_FROM_CONNECTION, rendered when the task runs."""
        run_dbt(["source", "freshness"], trino)

    build = DbtTaskGroup(
        group_id="dbt_build",
        project_config=ProjectConfig(
            DBT_PROJECT, manifest_path=MANIFEST, env_vars={**dbt_environment(), **TRINO_FROM_CONNECTION}
        ),
        profile_config=ProfileConfig(
            profile_name="fraud_platform", target_name="local", profiles_yml_filepath=DBT_PROJECT / "profiles.yml"
        ),
        # One `dbt build` of the whole project (dbt's own threads, one process) instead of a dbt process
        # per model: a run of this DAG 136 -> 57 s (same data, same session).
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER, dbt_executable_path=DBT, invocation_mode=InvocationMode.SUBPROCESS
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH),
        operator_args={"install_deps": False, "vars": {"as_of": AS_OF}},
    )

    @task(outlets=[FRAUD_MARTS])
    def build_report() -> str:
        from include import airflow_connections, report

        airflow_connections.export_to_settings()
        report.main(["--schema", dbt_environment()["DBT_SCHEMA"]])
        return settings.get("REPORT_URL")

    source_freshness(TRINO_FROM_CONNECTION) >> build >> build_report()
    after_the_build(build)


def after_the_build(build: DbtTaskGroup) -> None:
    """Makes the tasks of the first models wait for the one `dbt build`. In a task group cosmos starts them
    with it, polling for its results; `airflow dags test`, which runs one task at a time, would then wait
    forever. They run when it has ended, also when it failed (all_done_min_one_success: the freshness
    check before it passed), so each reports its own model's result.

    The build itself is not retried: cosmos skips a second attempt, which would let a run whose source
    tests failed end green. A model's task retries by rebuilding its model. So the results cosmos backs up
    for a retry of the build, in an Airflow Variable left behind by every failed run, are not kept
    (also AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False in platform.env)."""
    producer = build.children[f"{build.group_id}.{PRODUCER_WATCHER_TASK_ID}"]
    producer.retries = 0
    producer.on_failure_callback = [PlatformAlertNotifier()]  # cosmos' own callbacks left out
    producer.on_retry_callback = []
    for first in build.roots:
        if first is not producer:
            producer >> first
            first.trigger_rule = TriggerRule.ALL_DONE_MIN_ONE_SUCCESS


fraud_marts()
