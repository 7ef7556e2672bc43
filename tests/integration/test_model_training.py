"""The model lifecycle as the platform runs it: the fraud_model_training DAG, triggered through Airflow's
REST API and run by the scheduler, trains on what a job stored in Iceberg (the shared pipeline history),
registers the model in MLflow with what decided it, makes the first one champion and refuses a challenger
that is no better; a job submitted with `models:/<name>@champion` scores with that one version.

Each test uses a registered model of its own (never the platform's `fraud`), deleted afterwards with its
files."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
import yaml

from bench import pipeline
from include import airflow_api, aws, model_lifecycle, model_registry, restore_points, scoring_job
from include.lakehouse import iceberg_catalog
from include.scoring import model as model_store
from include.scoring.config import DEFAULT_PATH
from include.scoring.training import Windows
from producer.simulator import Simulator

pytestmark = pytest.mark.slow

TRAINING = "fraud_model_training"


@pytest.fixture
def model_name(unique_name):
    yield unique_name
    registry = model_registry.client()
    for version in registry.search_model_versions(f"name = '{unique_name}'"):
        model_store.delete(version.source, aws.s3_client())
    if registry.search_registered_models(f"name = '{unique_name}'"):
        registry.delete_registered_model(unique_name)


def training_conf(history, model_name: str) -> dict:
    return {**history.training_params(), "model_name": model_name, "alert_budget_cards_per_day": 10}


def test_training_promotes_a_first_champion_and_keeps_it_against_an_equal_challenger(pipeline_history, model_name):
    conf = training_conf(pipeline_history, model_name)
    registry = model_registry.client()

    first = airflow_api.run(TRAINING, conf, timeout_s=600)
    assert airflow_api.task_states(TRAINING, first) == {
        "train_challenger": "success",
        "judge": "success",
        "promote": "success",
        "prune_registry": "success",
        "announce_champion": "skipped",  # not the platform's model: nothing to deploy
    }
    champion = model_registry.champion(model_name)
    assert champion is not None and champion.version == "1"
    assert airflow_api.result(TRAINING, first, "promote") == f"{model_name}/1"

    # The run holds what decided it: windows, the Iceberg snapshots read, code and library versions.
    trained = airflow_api.result(TRAINING, first, "train_challenger")
    run = registry.get_run(trained["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["eval_from"].startswith("2026-01-07") and run.data.params["train_from"].startswith(
        "2026-01-01"
    )
    catalog = iceberg_catalog()
    for table in ("scored_transactions", "fraud_feedback"):
        snapshot_id = int(run.data.tags[f"iceberg.{table}.snapshot_id"])
        history = catalog.load_table(f"{pipeline_history.namespace}.{table}").snapshots()
        assert snapshot_id in {snapshot.snapshot_id for snapshot in history}
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert run.data.tags["code_version"].startswith(head)
    assert run.data.tags["library.scikit-learn"] != "absent"
    assert run.data.tags["promoted"] == "true" and run.data.tags["judgement"] == "no champion yet"
    # A model that learned something on this history: the simulator's frauds are far from random.
    assert run.data.metrics["challenger.handbook.auc_roc"] > 0.8
    assert 0 < run.data.metrics["challenger.handbook.average_precision"] <= 1

    # Trained again on the same snapshots it is the same model: no gain, so the champion stays.
    second = airflow_api.run(TRAINING, conf, timeout_s=600)
    states = airflow_api.task_states(TRAINING, second)
    assert states["promote"] == "skipped" and states["prune_registry"] == "success"
    assert model_registry.champion(model_name).version == "1"
    challenger = registry.get_model_version(model_name, "2")
    assert challenger.tags["promoted"] == "false"
    assert challenger.tags["judgement"].startswith("not better by the margins on average_precision")
    judged = registry.get_run(airflow_api.result(TRAINING, second, "train_challenger")["run_id"])
    assert judged.data.metrics["champion.handbook.average_precision"] == pytest.approx(
        judged.data.metrics["challenger.handbook.average_precision"]
    )


def test_nothing_is_trained_before_any_fraud_is_confirmed(pipeline_history, model_name):
    """Labels known before the first confirmation (a fresh platform): the run is skipped, not failed,
    and registers nothing."""
    conf = {**training_conf(pipeline_history, model_name), "labels_known_at": "2026-01-01T12:00:00+00:00"}
    run_id = airflow_api.run(TRAINING, conf, timeout_s=300)
    assert set(airflow_api.task_states(TRAINING, run_id).values()) == {"skipped"}
    assert "nothing to train" in airflow_api.log(TRAINING, run_id, "train_challenger")
    assert not model_registry.client().search_registered_models(f"name = '{model_name}'")


def test_a_job_submitted_with_the_champion_scores_with_that_version(pipeline_history, model_name, tmp_path):
    """`models:/<name>@champion` in the scoring config: the submit pins the version the alias names (its
    files and digest), the job stores `<name>/<version>` with every score, and its run record, which the
    health DAG restarts it from, names that version even after the alias has moved."""
    windows = Windows.ending(datetime(2026, 1, 10, tzinfo=UTC), 6, 2, pipeline_history.feedback_delay_days)
    first = model_lifecycle.train_challenger(pipeline_history.namespace, model_name, windows, cards_per_day=10)
    champion = model_registry.ModelRef(**first["challenger"])
    model_registry.make_champion(champion)
    config = tmp_path / "scoring.yaml"
    config.write_text(
        DEFAULT_PATH.read_text().replace("uri: models:/fraud@champion", f"uri: models:/{model_name}@champion")
    )
    assert f"models:/{model_name}@champion" in config.read_text()

    deployment = pipeline.new_deployment(f"{model_name}_job")
    try:
        job_id = scoring_job.submit(deployment, scoring_config=config, parallelism=1)
        scoring_job.flink().wait_for_state(job_id, {"RUNNING"})
        items = list(Simulator(30, seed=3131, start_ms=pipeline_history.start_ms, days=1).transactions())
        sent = pipeline.produce(deployment, items)
        pipeline.run_until_consumed(deployment, sent)
        rows = pipeline.scored_rows(deployment)
        assert len(rows) == len(sent.valid)
        assert {row["model_version"] for row in rows.values()} == {champion.label}

        # The alias moves on; the job's restarts keep the version it was deployed with.
        second = model_lifecycle.train_challenger(pipeline_history.namespace, model_name, windows, cards_per_day=10)
        model_registry.make_champion(model_registry.ModelRef(**second["challenger"]))
        recorded = restore_points.last_run(deployment.job_name)["scoring_config"]
        assert champion.uri in recorded and champion.sha256 in recorded
        # Alerting from the version's own threshold for the analysts' budget (scoring.yaml: capacity).
        assert champion.capacity_threshold is not None
        assert yaml.safe_load(recorded)["decision"]["alert_threshold"] == champion.capacity_threshold
        assert f"{model_name}/2" not in recorded
    finally:
        deployment.remove()
