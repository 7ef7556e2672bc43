"""Every DAG runs green against the live stack, through the scheduler, triggered over the REST API as a
user would (include/airflow_api.py; `airflow dags test` would race the scheduler, which runs
an active DAG's queued tasks too). The deploy DAG runs twice while transactions stream in (the second
upgrades the job through a savepoint to another parallelism, and the stream loses and doubles nothing),
and the health DAG on its own schedule restarts the job after its JobManager was killed."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from bench import pipeline
from dags import fraud_scoring_health
from include import airflow_api, aws, model_registry, restore_points, scoring_job, settings
from include.lakehouse import trino_query
from include.scoring import config as scoring_config
from include.scoring import model as model_store
from include.scoring.card_store import DynamoCardStore, drop_tables
from producer import files
from producer.simulator import Simulator
from stack import supervisor

pytestmark = pytest.mark.slow

START_MS = 1_767_225_600_000  # 2026-01-01
PLATFORM = scoring_job.Deployment.platform()
DEPLOY, HEALTH, TRAINING = "fraud_scoring_deploy", "fraud_scoring_health", "fraud_model_training"
MODEL = scoring_config.load().registered_model  # the model the platform's job scores with
# Deploys as the tests trigger them: without the approval step (tested on its own), and an upgrade to
# the versioned default config (the only kind the DAG takes) at another parallelism.
UNATTENDED = {"require_approval": False}
UPGRADE = {**UNATTENDED, "parallelism": 1, "scoring_config": "scoring.yaml"}


def deployed_as_upgraded() -> bool:
    last = restore_points.last_run(PLATFORM.job_name)
    return bool(last and last["parallelism"] == UPGRADE["parallelism"] and scoring_job.running(PLATFORM))


def test_every_dag_is_active_on_a_fresh_stack():
    """Airflow's default would pause them: no schedule would run, and API-triggered runs would queue."""
    paused = [
        dag["dag_id"] for dag in airflow_api.api("GET", "/dags", params={"limit": 100})["dags"] if dag["is_paused"]
    ]
    assert paused == []


def test_platform_health():
    airflow_api.run("platform_health")


def test_deploy_refuses_a_config_or_savepoint_from_elsewhere_before_touching_the_job():
    before = [job.id for job in scoring_job.running(PLATFORM)]
    refused = []
    for conf in (
        {"scoring_config": "/etc/passwd"},
        {"scoring_config": str(settings.credentials_file())},
        {"from_savepoint": "file:///tmp/elsewhere/savepoint-1"},
        {"model_version": 999_999},
    ):
        run_id = airflow_api.trigger(DEPLOY, conf)
        assert airflow_api.wait(DEPLOY, run_id, timeout_s=300) == "failed"
        states = airflow_api.task_states(DEPLOY, run_id)
        assert states["prepare"] == "failed" and states["replace_job"] in ("upstream_failed", None), states
        prepare_log = airflow_api.log(DEPLOY, run_id, "prepare")
        assert any(
            reason in prepare_log
            for reason in (
                "not one of the versioned configs",
                "not under the platform's savepoint directory",
                "no such model version",
            )
        ), prepare_log[-2000:]
        refused.append(run_id)
    assert [job.id for job in scoring_job.running(PLATFORM)] == before
    # Each refusal reached the operators: a deploy nobody watches fails loudly.
    alerts = _task_failure_alerts(DEPLOY, "prepare")
    assert all(run_id in alerts for run_id in refused), (refused, alerts)


def test_a_rejected_deploy_changes_nothing():
    before = [job.id for job in scoring_job.running(PLATFORM)]
    run_id = airflow_api.trigger(DEPLOY, {"require_approval": True})
    answer = airflow_api.respond(DEPLOY, run_id, "approve", "Reject")
    assert answer["chosen_options"] == ["Reject"]
    airflow_api.wait_for_success(DEPLOY, run_id, timeout_s=300)
    states = airflow_api.task_states(DEPLOY, run_id)
    assert states["approve"] == "success"
    assert {states[task] for task in ("replace_job", "wait_until_checkpointed", "prune_old_state")} == {"skipped"}
    assert [job.id for job in scoring_job.running(PLATFORM)] == before


def test_deploy_twice_while_streaming_loses_and_doubles_nothing():
    first = airflow_api.run(DEPLOY, UNATTENDED)
    first_job = airflow_api.result(DEPLOY, first, "replace_job")
    assert [job.id for job in scoring_job.running(PLATFORM)] == [first_job]
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
    # Upgrades the running job in the middle of the stream, to another parallelism, once approved.
    second = airflow_api.trigger(DEPLOY, {**UPGRADE, "require_approval": True})
    airflow_api.respond(DEPLOY, second, "approve", "Approve")
    airflow_api.wait_for_success(DEPLOY, second)
    streaming.join(timeout=600)
    assert "savepoint: " in airflow_api.log(DEPLOY, second, "replace_job")
    # The new run completed a checkpoint: the state of earlier runs is gone, the newest savepoints stay.
    [current] = scoring_job.running(PLATFORM)
    assert current.id == airflow_api.result(DEPLOY, second, "replace_job") != first_job
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


def test_a_new_champion_is_deployed_once_approved_and_a_version_can_be_rolled_back_to(pipeline_history):
    """The lifecycle on the platform's own model (`fraud`) and job: a promotion updates the asset, whose
    deploy run waits for approval and then runs the champion pinned by version; a challenger that is no
    better deploys nothing; a deploy naming a version runs that one. Afterwards the registry and the job
    are as before (on a fresh stack: no `fraud` model, the job on the rules)."""
    registry = model_registry.client()
    champion_before = model_registry.champion(MODEL)
    versions_before = {v.version for v in registry.search_model_versions(f"name = '{MODEL}'")}
    if not scoring_job.running(PLATFORM):
        airflow_api.run(DEPLOY, UNATTENDED)
    training = pipeline_history.training_params()  # trained on the shared history, in its own namespace
    started = datetime.now(UTC)
    try:
        # Promoted whatever the champion (negative margins): the asset starts a deploy, which asks first.
        began = datetime.now(UTC)
        forced = {**training, "min_gain_average_precision": -1.0, "min_gain_card_precision_at_100": -1.0}
        promoted_run = airflow_api.run(TRAINING, forced, timeout_s=600)
        champion = airflow_api.result(TRAINING, promoted_run, "announce_champion")
        pipeline.wait_until(
            lambda: airflow_api.scheduled_runs_after(DEPLOY, began, "asset_triggered"), 120, "a deploy on the asset"
        )
        [deploy] = airflow_api.scheduled_runs_after(DEPLOY, began, "asset_triggered")
        airflow_api.respond(DEPLOY, deploy["dag_run_id"], "approve", "Approve")
        assert airflow_api.result(DEPLOY, deploy["dag_run_id"], "prepare")["model"] == champion
        airflow_api.wait_for_success(DEPLOY, deploy["dag_run_id"])
        assert champion in restore_points.last_run(PLATFORM.job_name)["scoring_config"]
        [running] = scoring_job.running(PLATFORM)
        assert running.id == airflow_api.result(DEPLOY, deploy["dag_run_id"], "replace_job")

        # The same data again: no gain, no promotion, no deploy.
        began = datetime.now(UTC)
        kept_run = airflow_api.run(TRAINING, training, timeout_s=600)
        assert airflow_api.task_states(TRAINING, kept_run)["announce_champion"] == "skipped"
        challenger = airflow_api.result(TRAINING, kept_run, "judge")["challenger"]
        time.sleep(10)
        assert airflow_api.scheduled_runs_after(DEPLOY, began, "asset_triggered") == []
        assert model_registry.champion(MODEL).label == champion

        # A deploy naming a version runs it, champion or not (a rollback names the previous one).
        rolled = airflow_api.run(DEPLOY, {**UNATTENDED, "model_version": int(challenger["version"])})
        assert airflow_api.result(DEPLOY, rolled, "prepare")["model"] == f"{MODEL}/{challenger['version']}"
        assert challenger["uri"] in restore_points.last_run(PLATFORM.job_name)["scoring_config"]
    finally:
        # Back to what ran before the test (the previous champion, or the rules), then the test's
        # versions deleted with their files: the job never runs a version whose files are gone.
        for run in airflow_api.scheduled_runs_after(DEPLOY, started, "asset_triggered"):  # none left waiting
            if airflow_api.task_states(DEPLOY, run["dag_run_id"]).get("approve") == "awaiting_input":
                airflow_api.respond(DEPLOY, run["dag_run_id"], "approve", "Reject")
        if champion_before:
            model_registry.make_champion(champion_before)
        elif registry.search_registered_models(f"name = '{MODEL}'"):
            registry.delete_registered_model_alias(MODEL, model_registry.CHAMPION)
        restored = airflow_api.run(DEPLOY, UNATTENDED)
        for version in registry.search_model_versions(f"name = '{MODEL}'"):
            if version.version not in versions_before:
                model_store.delete(version.source, aws.s3_client())
                registry.delete_model_version(MODEL, version.version)
        if not versions_before and registry.search_registered_models(f"name = '{MODEL}'"):
            registry.delete_registered_model(MODEL)
    expected = champion_before.label if champion_before else "none (rules only"
    assert airflow_api.result(DEPLOY, restored, "prepare")["model"].startswith(expected)


def test_health_check_passes_on_the_running_job():
    if not scoring_job.running(PLATFORM):  # run alone, without the deploy test before it
        airflow_api.run(DEPLOY, UNATTENDED)
    run_id = airflow_api.run(HEALTH)
    assert airflow_api.result(HEALTH, run_id, "check_job")["state"] == "RUNNING"
    # Its figures are fields of a JSON line of the task log, with the job's name (not prose to parse).
    logs = Path(settings.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER")) / f"dag_id={HEALTH}" / f"run_id={run_id}"
    lines = [json.loads(line) for path in logs.glob("task_id=check_job/attempt=*.log") for line in path.open()]
    [figures] = [line for line in lines if line.get("event") == "health figures"]
    assert figures["deployment"] == PLATFORM.job_name and figures["state"] == "RUNNING"
    assert figures["level"] == "info" and "restarts" in figures


def test_a_health_check_that_fails_for_good_alerts_the_operators():
    """A failed check_job (no retry for an unhealthy job) is announced on the platform alerts topic,
    naming the run and saying what is wrong. The check is made to see restarts by rewinding what it
    last saw (RESTARTS_SEEN) to -1 with a bound of 0 new restarts; a scheduled run that starts in
    between sees the same and fails in its place, so every failed run since counts."""
    if not scoring_job.running(PLATFORM):
        airflow_api.run(DEPLOY, UNATTENDED)
    began = datetime.now(UTC)
    airflow_api.set_variable(fraud_scoring_health.RESTARTS_SEEN, "-1")
    run_id = airflow_api.trigger(HEALTH, {"max_new_restarts": 0})
    states = {run_id: airflow_api.wait(HEALTH, run_id, timeout_s=300)}
    for scheduled in airflow_api.scheduled_runs_after(HEALTH, began):
        states[scheduled["dag_run_id"]] = airflow_api.wait(HEALTH, scheduled["dag_run_id"], timeout_s=300)
    failed = {r for r, state in states.items() if state == "failed"}
    assert failed, f"no health run since {began} failed"
    alerts = _task_failure_alerts(HEALTH, "check_job")
    for failed_run in failed:
        alert = alerts[failed_run]
        assert alert["severity"] == "critical" and alert["status"] == "firing"
        assert "restarts since the last check (bound 0)" in alert["summary"], alert["summary"]


def _task_failure_alerts(dag_id: str, task_id: str) -> dict[str, dict]:
    """The alerts on platform_alerts of the task's failures, by run id."""
    return {
        alert["labels"]["run_id"]: alert
        for key, alert in pipeline.read_topic(settings.get("PLATFORM_ALERTS_TOPIC"))
        if key == f"airflow_task_failed/{dag_id}.{task_id}"
    }


def _kill_jobmanager() -> None:
    """kill -9 of the JobManager's JVM; supervisord starts a new one, which knows no job (no HA)."""
    launcher = psutil.Process(supervisor.program_info("flink-jobmanager").pid)
    [jvm] = [p for p in (launcher, *launcher.children(recursive=True)) if p.name() == "java"]
    os.kill(jvm.pid, signal.SIGKILL)


@pytest.mark.disruptive(restarts="flink")
def test_scheduled_health_run_restarts_the_job_after_a_jobmanager_kill_as_it_last_ran():
    """The JobManager is killed mid-stream and comes back knowing no job. No test calls a DAG: the health
    DAG's next scheduled run (every 5 min) starts the job again from its newest stored checkpoint, with the
    parallelism and scoring config it was deployed with, and the stream loses and doubles nothing."""
    rest = scoring_job.flink()
    if not deployed_as_upgraded():  # run alone, without the deploy test
        airflow_api.run(DEPLOY, UPGRADE)
    [before] = scoring_job.running(PLATFORM, rest)

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
    killed_at = datetime.now(UTC)
    _kill_jobmanager()
    deadline = time.monotonic() + 120
    while not _jobmanager_answers_without(rest, before.id):
        assert time.monotonic() < deadline, "the JobManager did not come back"
        time.sleep(2)

    # The next scheduled health run (at most 5 min away) restarts it.
    deadline = time.monotonic() + 11 * 60
    while not (restarted := scoring_job.running(PLATFORM, rest)):
        assert time.monotonic() < deadline, f"no restart by a scheduled {HEALTH} run within 11 min"
        time.sleep(5)
    # The scheduled run that restarted it (one already under way when the JobManager died may have).
    restarting = []
    for scheduled in airflow_api.scheduled_runs_after(HEALTH, killed_at - timedelta(minutes=5)):
        airflow_api.wait(HEALTH, scheduled["dag_run_id"], timeout_s=600)
        if "job was down: restarted" in airflow_api.log(HEALTH, scheduled["dag_run_id"], "check_job"):
            restarting.append(scheduled["dag_run_id"])
    assert len(restarting) == 1, restarting
    [restarted] = restarted
    parallelism, parameters = rest.job_config(restarted.id)
    assert parallelism == UPGRADE["parallelism"]
    # The config as the deploy pinned it (the version the champion alias names, or the rules only).
    deployed_config = model_registry.pin(scoring_job.DEFAULT_SCORING_CONFIG.read_text())[0].encode()
    assert base64.b64decode(parameters[scoring_job.SCORING_CONFIG_PARAMETER]) == deployed_config
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


def _jobmanager_answers_without(rest, job_id: str) -> bool:
    try:
        return job_id not in {job.id for job in rest.jobs(PLATFORM.job_name)}
    except Exception:  # still starting
        return False


def test_producer_backfill_replays_a_file(tmp_path):
    path = tmp_path / "backfill.jsonl.gz"
    files.write_project(path, Simulator(50, seed=6060, start_ms=START_MS, days=2).transactions())
    run_id = airflow_api.run("producer_backfill", {"mode": "replay", "path": str(path), "format": "project"})
    assert "0 failed" in airflow_api.log("producer_backfill", run_id, "produce")


def test_seed_dynamodb_loads_card_histories_and_can_rerun(tmp_path):
    path = tmp_path / "seed.jsonl.gz"
    items = list(Simulator(30, seed=7070, start_ms=START_MS, days=3).transactions())
    files.write_project(path, items)
    table = "test_seed_cards"
    try:
        conf = {"source": "file", "path": str(path), "format": "project", "card_table": table}
        airflow_api.run("seed_dynamodb", conf)
        airflow_api.run("seed_dynamodb", conf)  # safe to rerun
        stored = DynamoCardStore(aws.dynamodb_client(), table).load({i.tx.card_id for i in items})
        from include.scoring.history import CardHistory

        seeded = {e.tx_id for card, blob in stored.items() for e in CardHistory.decode(card, blob).entries}
        assert seeded == {i.tx.tx_id for i in items}
    finally:
        drop_tables(aws.dynamodb_client(), table)


def test_fraud_marts_builds_every_model_and_the_report():
    """One `dbt build` runs every model, data test and unit test of the dbt project (exposures count as
    NO-OP); each model's run and test tasks take their result from it. Through the scheduler: the DAG is
    also scheduled on new scored data, and one run at a time builds the marts."""
    run_id = airflow_api.run("fraud_marts", timeout_s=1500)
    manifest = json.loads((settings.REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    expected = sum(node["resource_type"] in ("model", "test") for node in nodes) + len(manifest["unit_tests"])
    assert manifest["unit_tests"] and manifest["exposures"]
    build_log = airflow_api.log("fraud_marts", run_id, "dbt_build.dbt_producer_watcher")
    assert f"Done. PASS={expected} WARN=0 ERROR=0 SKIP=0 NO-OP={len(manifest['exposures'])}" in build_log
    states = airflow_api.task_states("fraud_marts", run_id)
    for model in (node["name"] for node in nodes if node["resource_type"] == "model"):
        for kind in ("run", "test"):
            assert states.get(f"dbt_build.{model}.{kind}") == "success", f"task {model}.{kind}: {states}"
    assert trino_query(f"select count(*) from {PLATFORM.namespace}_marts.fct_daily_fraud_kpis")[0][0] > 0


def test_iceberg_maintenance_compacts_and_ages_out():
    airflow_api.run("iceberg_maintenance")


def test_iceberg_snapshot_expiry():
    airflow_api.run("iceberg_snapshot_expiry")
