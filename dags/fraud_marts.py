"""
### Fraud marts (dbt on Trino) and the fraud report

Builds the dbt project `dbt_project/` over the Iceberg tables the scoring job writes, through Trino:
models **and** their tests, after a check of the sources' freshness. Each model is a task of its own
(astronomer-cosmos) running `dbt build` on it: the model, then its tests, including those reconciling it
with upstream models. The tests that belong to no single model (on the sources, or between two marts)
run next, in `tests_across_models`. Then the report page served at `REPORT_URL` is regenerated.

Every task of a run reads the sources as they were when the run started (dbt var `as_of`, Iceberg time
travel in the staging views): a mart and the tests reconciling it with its sources see the same
snapshot while the stream keeps committing.

Runs every night, and whenever the health DAG announces new scored data (the `scored_transactions`
asset, include/assets.py). The incremental `fct_daily_fraud_kpis` rebuilds only the days that got rows
or labels since its last run; the other marts are rebuilt whole.

Query the marts in Trino, schema `fraud_marts` (e.g. `select * from fraud_marts.fct_daily_fraud_kpis`).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

from include import config, dbt_manifest
from include.assets import FRAUD_MARTS, SCORED_TRANSACTIONS

DBT_PROJECT = Path(os.environ.get("DBT_PROJECT_DIR", config.REPO_ROOT / "dbt_project"))
DBT = Path(config.get("VENV_DIR")) / "dbt" / "bin" / "dbt"
# Written by `dbt parse` (make up does it): cosmos reads the graph from it instead of running dbt on
# every DAG parse.
MANIFEST = DBT_PROJECT / "target" / "manifest.json"
# The run's start as a Trino timestamp with time zone: the Iceberg snapshot all its dbt tasks read.
AS_OF = "{{ dag_run.start_date.isoformat(sep=' ') }}"


# dbt reaches Trino through the trino_default connection: templated, so each task resolves it when it runs.
TRINO_FROM_CONNECTION = {"TRINO_HOST": "{{ conn.trino_default.host }}", "TRINO_PORT": "{{ conn.trino_default.port }}",
                         "TRINO_USER": "{{ conn.trino_default.login }}"}


def dbt_environment() -> dict[str, str]:
    """What profiles.yml and the models read besides the Trino endpoint."""
    s = config.settings()
    return {"ICEBERG_CATALOG_NAME": s["ICEBERG_CATALOG_NAME"], "ICEBERG_NAMESPACE": s["ICEBERG_NAMESPACE"],
            "DBT_SCHEMA": s["ICEBERG_NAMESPACE"]}


def run_dbt(args: list[str], trino: dict[str, str]) -> None:
    """Runs the dbt CLI on the project, printing its output; fails when dbt does."""
    env = {**os.environ, **dbt_environment(), **trino}
    result = subprocess.run([str(DBT), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
                            env=env, capture_output=True, text=True, timeout=600)
    print(result.stdout[-5000:])
    if result.returncode != 0:
        raise RuntimeError(f"dbt {args[0]} failed:\n{(result.stdout + result.stderr)[-2000:]}")


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
                                 assets=[SCORED_TRANSACTIONS]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "dbt", "trino", "report"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def fraud_marts():
    @task
    def source_freshness(trino: dict[str, str]) -> None:
        """Fails when a source is older than its freshness error bound (dbt_project/models/staging/_sources.yml).
        `trino`: TRINO_FROM_CONNECTION, rendered when the task runs."""
        run_dbt(["source", "freshness"], trino)

    @task
    def tests_across_models(trino: dict[str, str], as_of: str) -> None:
        """The tests no model's task runs (include/dbt_manifest.py): tests on the sources, and relationships
        between marts of which neither is upstream of the other."""
        tests = dbt_manifest.tests_outside_model_builds(dbt_manifest.load(MANIFEST))
        run_dbt(["test", "--select", *tests, "--vars", json.dumps({"as_of": as_of})], trino)

    build = DbtTaskGroup(
        group_id="dbt_build",
        project_config=ProjectConfig(DBT_PROJECT, manifest_path=MANIFEST,
                                     env_vars={**dbt_environment(), **TRINO_FROM_CONNECTION}),
        profile_config=ProfileConfig(profile_name="fraud_platform", target_name="local",
                                     profiles_yml_filepath=DBT_PROJECT / "profiles.yml"),
        # "buildable": a test runs with the last model it references, so a reconciliation test (mart vs
        # staging) waits for the mart to be rebuilt instead of running right after the staging model.
        execution_config=ExecutionConfig(dbt_executable_path=DBT, invocation_mode=InvocationMode.SUBPROCESS,
                                         test_indirect_selection=TestIndirectSelection.BUILDABLE),
        # One task per model running `dbt build` (the model, then its tests): half the dbt invocations of
        # a run task and a test task per model (a DAG run 194 -> 122 s on the test data, one session).
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD),
        operator_args={"install_deps": False, "vars": {"as_of": AS_OF}},
    )

    @task(outlets=[FRAUD_MARTS])
    def build_report() -> str:
        from include import airflow_connections, report

        airflow_connections.export_to_settings()
        report.main(["--schema", dbt_environment()["DBT_SCHEMA"]])
        return config.get("REPORT_URL")

    source_freshness(TRINO_FROM_CONNECTION) >> build >> tests_across_models(TRINO_FROM_CONNECTION, AS_OF) \
        >> build_report()


fraud_marts()
