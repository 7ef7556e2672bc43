"""Every DAG runs green with `airflow dags test` against the live stack. The deploy DAG runs twice while
transactions stream in: the second run upgrades the job through a savepoint to another parallelism, and
the stream loses and doubles nothing. The health DAG restarts a job that died as it last ran."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import threading
from pathlib import Path

import pytest

from include import aws, restore_points, scoring_job, settings
from include.lakehouse import trino_query
from include.scoring.card_store import DynamoCardStore, drop_tables
from producer import files
from producer.simulator import Simulator
from tests.integration import pipeline

pytestmark = pytest.mark.slow

START_MS = 1_767_225_600_000  # 2026-01-01
PLATFORM = scoring_job.Deployment.platform()


def dags_test(dag_id: str, conf: dict | None = None, timeout_s: float = 900) -> str:
    """Runs one DAG run in-process (`airflow dags test`); returns its output, fails unless it succeeded.
    Airflow gets the platform's settings only: not the throwaway home and unit-test mode tests/dags/ put
    into this process's environment, in which Airflow ignores airflow.cfg (and so its Fernet key)."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env = {**inherited, **settings.all_settings(), "PYTHONPATH": str(settings.REPO_ROOT)}
    cmd = [str(Path(settings.get("VENV_DIR")) / "app" / "bin" / "airflow"), "dags", "test", dag_id]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    output = result.stdout + result.stderr
    lines = output.splitlines()
    finished = [line for line in lines if "DagRun Finished" in line]
    failures = [
        line[:400] for line in lines if any(word in line for word in ("FAIL", "Failure", "Error", "new_state=failed"))
    ]
    assert result.returncode == 0 and finished and "state=success" in finished[-1], (
        "\n".join(failures[-40:]) + "\n...\n" + output[-3000:]
    )
    return output


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory) -> dict:
    """The deploy DAG's params for the deploy test's upgrade: another parallelism and a scoring config of
    its own (the default plus a comment), so that the restart test can tell the job runs as it left it."""
    path = tmp_path_factory.mktemp("deploy") / "scoring.yaml"
    path.write_text("# deployed by test_dags_live\n" + scoring_job.DEFAULT_SCORING_CONFIG.read_text())
    return {"parallelism": 1, "scoring_config": str(path)}


def test_platform_health():
    dags_test("platform_health")


def test_deploy_twice_while_streaming_loses_and_doubles_nothing(upgrade):
    first = dags_test("fraud_scoring_deploy")
    assert scoring_job.running(PLATFORM), first[-3000:]
    # A seed (and so transaction ids) of its own: on a stack that kept an earlier run's rows, those
    # must not satisfy the checks below.
    seed = random.randrange(100_000, 1_000_000)
    items = list(Simulator(400, seed=seed, start_ms=START_MS, days=5).transactions())
    sent: dict[str, pipeline.Sent] = {}
    streaming = threading.Thread(
        target=lambda: sent.setdefault("run", pipeline.produce(PLATFORM, items, rate=200, feedback_delay_days=1)),
        daemon=True,
    )
    streaming.start()
    # Upgrades the running job in the middle of the stream, to another parallelism and scoring config.
    second = dags_test("fraud_scoring_deploy", upgrade)
    streaming.join(timeout=600)
    assert "stopping fraud-scoring" in second and "savepoint: " in second, second[-3000:]
    # The new run completed a checkpoint: the state of earlier runs is gone, the newest savepoints stay.
    [current] = scoring_job.running(PLATFORM)
    checkpoints = Path(restore_points.checkpoint_dir(PLATFORM.job_name).removeprefix("file://"))
    assert [run.name for run in checkpoints.iterdir()] == [current.id]
    savepoints = Path(restore_points.savepoint_dir(PLATFORM.job_name).removeprefix("file://"))
    assert 1 <= len(list(savepoints.glob("savepoint-*"))) <= settings.get_int("FLINK_SAVEPOINTS_KEPT")
    produced = sent["run"]

    prefix = f"sim{seed}-"
    pipeline.commit_until(
        PLATFORM,
        lambda: (
            trino_query(f"select count(*) from {PLATFORM.table('scored_transactions')} where tx_id like '{prefix}%'")[
                0
            ][0]
            >= len(produced.valid)
        ),
        300,
        "every streamed transaction in Iceberg",
    )
    rows = trino_query(
        f"select tx_id, decision from {PLATFORM.table('scored_transactions')} where tx_id like '{prefix}%'"
    )
    assert len(rows) == len({tx_id for tx_id, _ in rows}) == len(produced.valid)
    assert {tx_id for tx_id, _ in rows} == set(produced.valid)
    alerts = [key for key, _ in pipeline.read_topic(PLATFORM.alerts_topic) if key.startswith(prefix)]
    assert sorted(alerts) == sorted(tx_id for tx_id, decision in rows if decision == "ALERT")


def test_health_check_passes_on_the_running_job():
    if not scoring_job.running(PLATFORM):  # run alone, without the deploy test before it
        dags_test("fraud_scoring_deploy")
    output = dags_test("fraud_scoring_health")
    assert "'state': 'RUNNING'" in output


@pytest.mark.disruptive(restarts="flink")
def test_health_check_restarts_a_dead_job_as_it_last_ran(upgrade, restart_service):
    """With restart_if_down, a job that died mid-stream with its Flink cluster, which forgot it, starts
    again from its newest stored checkpoint, with the parallelism and scoring config it was deployed with,
    and the stream loses and doubles nothing."""
    rest = scoring_job.flink()
    deployed_config = Path(upgrade["scoring_config"])
    last = restore_points.last_run(PLATFORM.job_name)
    as_upgraded = (
        last and last["parallelism"] == upgrade["parallelism"] and last["scoring_config"] == deployed_config.read_text()
    )
    if not (as_upgraded and scoring_job.running(PLATFORM, rest)):  # run alone, without the deploy test
        dags_test("fraud_scoring_deploy", upgrade)
    assert len(scoring_job.running(PLATFORM, rest)) == 1

    seed = random.randrange(100_000, 1_000_000)
    items = list(Simulator(200, seed=seed, start_ms=START_MS, days=5).transactions())
    halfway = threading.Event()
    sent: dict[str, pipeline.Sent] = {}
    streaming = threading.Thread(
        target=lambda: sent.setdefault(
            "run",
            pipeline.produce(PLATFORM, items, rate=100, on_progress=lambda n: n == len(items) // 3 and halfway.set()),
        ),
        daemon=True,
    )
    streaming.start()
    assert halfway.wait(timeout=120)
    prefix = f"sim{seed}-"
    table = PLATFORM.table("scored_transactions")
    pipeline.commit_until(
        PLATFORM,
        lambda: trino_query(f"select count(*) from {table} where tx_id like '{prefix}%'")[0][0] > 0,
        60,
        "a checkpoint committing part of the stream",
    )
    restart_service("flink")  # JobManager and TaskManager go down with the job: no savepoint, no memory of it
    assert rest.jobs(PLATFORM.job_name) == []
    newest_stored = max(restore_points.stored(PLATFORM.job_name))[1]

    output = dags_test("fraud_scoring_health", {"restart_if_down": True})
    assert f"from {newest_stored}" in output, output[-3000:]
    [restarted] = scoring_job.running(PLATFORM, rest)
    parallelism, parameters = rest.job_config(restarted.id)
    assert parallelism == 1
    assert base64.b64decode(parameters[scoring_job.SCORING_CONFIG_PARAMETER]) == deployed_config.read_bytes()
    assert {
        path.split("/checkpoints/")[1].split("/")[1]
        for _, path in restore_points.stored(PLATFORM.job_name)
        if "/checkpoints/" in path
    } == {restarted.id}  # the dead run's checkpoints pruned

    streaming.join(timeout=600)
    produced = sent["run"]
    pipeline.commit_until(
        PLATFORM,
        lambda: trino_query(f"select count(*) from {table} where tx_id like '{prefix}%'")[0][0] >= len(produced.valid),
        300,
        "every streamed transaction in Iceberg",
    )
    rows = trino_query(f"select tx_id, decision from {table} where tx_id like '{prefix}%'")
    assert sorted(tx_id for tx_id, _ in rows) == sorted(produced.valid)  # each exactly once
    # Alerts are at-least-once on the platform (ALERTS_DELIVERY_GUARANTEE): a restart may repeat some.
    alerts = {key for key, _ in pipeline.read_topic(PLATFORM.alerts_topic) if key.startswith(prefix)}
    assert alerts == {tx_id for tx_id, decision in rows if decision == "ALERT"}


def test_producer_backfill_replays_a_file(tmp_path):
    path = tmp_path / "backfill.jsonl.gz"
    files.write_project(path, Simulator(50, seed=6060, start_ms=START_MS, days=2).transactions())
    output = dags_test("producer_backfill", {"mode": "replay", "path": str(path), "format": "project"})
    assert "0 failed" in output


def test_seed_dynamodb_loads_card_histories_and_can_rerun(tmp_path):
    path = tmp_path / "seed.jsonl.gz"
    items = list(Simulator(30, seed=7070, start_ms=START_MS, days=3).transactions())
    files.write_project(path, items)
    table = "test_seed_cards"
    try:
        conf = {"source": "file", "path": str(path), "format": "project", "card_table": table}
        dags_test("seed_dynamodb", conf)
        dags_test("seed_dynamodb", conf)  # safe to rerun
        stored = DynamoCardStore(aws.dynamodb_client(), table).load({i.tx.card_id for i in items})
        from include.scoring.history import CardHistory

        seeded = {e.tx_id for card, blob in stored.items() for e in CardHistory.decode(card, blob).entries}
        assert seeded == {i.tx.tx_id for i in items}
    finally:
        drop_tables(aws.dynamodb_client(), table)


def test_fraud_marts_builds_every_model_and_the_report():
    """One `dbt build` runs every model, data test and unit test of the dbt project (exposures count as
    NO-OP); each model's run and test tasks take their result from it."""
    output = dags_test("fraud_marts", timeout_s=1500)
    manifest = json.loads((settings.REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    expected = sum(node["resource_type"] in ("model", "test") for node in nodes) + len(manifest["unit_tests"])
    assert manifest["unit_tests"] and manifest["exposures"]
    assert f"Done. PASS={expected} WARN=0 ERROR=0 SKIP=0 NO-OP={len(manifest['exposures'])}" in output
    for model in (node["name"] for node in nodes if node["resource_type"] == "model"):
        for kind in ("run", "test"):
            assert f"end task task_id=dbt_build.{model}.{kind} " in output, f"no task {model}.{kind}"
    assert trino_query(f"select count(*) from {PLATFORM.namespace}_marts.fct_daily_fraud_kpis")[0][0] > 0


def test_iceberg_maintenance_compacts_and_ages_out():
    dags_test("iceberg_maintenance")


def test_iceberg_snapshot_expiry():
    dags_test("iceberg_snapshot_expiry")
