"""Every DAG file imports cleanly, and every DAG follows the project's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
# Tasks that must not retry: cosmos skips a second attempt of the marts DAG's one `dbt build` (which would
# end a run green whose source tests failed); the tasks of its models retry instead (dags/fraud_marts.py).
NOT_RETRIED = {("fraud_marts", "dbt_build.dbt_producer_watcher")}


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_DIR, bundle_path=DAGS_DIR)


def test_there_are_dags():
    assert DAG_FILES, f"no DAG files in {DAGS_DIR}"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors(dag_bag, dag_file):
    errors = {path: error for path, error in dag_bag.import_errors.items() if Path(path).name == dag_file.name}
    assert not errors, errors
    assert any(Path(dag.fileloc).name == dag_file.name for dag in dag_bag.dags.values()), (
        f"{dag_file.name} defines no DAG"
    )


def test_every_dag_is_active_from_its_creation(dag_bag):
    """Scheduled DAGs run from the first `make up`; manual ones run when triggered through the API."""
    for dag_id, dag in dag_bag.dags.items():
        assert dag.is_paused_upon_creation is False, dag_id


def test_the_job_is_swapped_and_restarted_in_one_pool_of_one_slot(dag_bag):
    from include import settings

    pool = settings.get("SCORING_JOB_POOL")
    assert dag_bag.dags["fraud_scoring_deploy"].get_task("replace_job").pool == pool
    assert dag_bag.dags["fraud_scoring_health"].get_task("check_job").pool == pool


def test_every_dag_has_tags_retries_and_a_docstring(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert (dag.doc_md or "").strip(), f"{dag_id} has no doc_md"
        for task in dag.tasks:
            if (dag_id, task.task_id) in NOT_RETRIED:
                assert task.retries == 0, f"{dag_id}.{task.task_id} retries"
            else:
                assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_every_task_is_bounded_in_time_and_announces_its_failure(dag_bag):
    """A hung task holds its slot (and the scoring job's pool) forever; a failed one tells nobody unless
    it says so on the platform alerts topic."""
    from datetime import timedelta

    from include.failure_notices import PlatformAlertNotifier

    for dag_id, dag in dag_bag.dags.items():
        for task in dag.tasks:
            name = f"{dag_id}.{task.task_id}"
            assert task.execution_timeout is not None, f"{name} may run forever"
            assert task.execution_timeout <= timedelta(hours=6) or task.task_type == "ApprovalOperator", name
            callbacks = task.on_failure_callback or []
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(isinstance(c, PlatformAlertNotifier) for c in callbacks), f"{name} fails silently"


def test_a_new_champion_of_the_platforms_model_triggers_a_deploy_that_waits_for_approval(dag_bag):
    from include.assets import FRAUD_MODEL_CHAMPION
    from include.scoring import config as scoring_config

    training, deploy = dag_bag.dags["fraud_model_training"], dag_bag.dags["fraud_scoring_deploy"]
    assert FRAUD_MODEL_CHAMPION in training.get_task("announce_champion").outlets
    assert FRAUD_MODEL_CHAMPION.uri == f"models:/{scoring_config.load().registered_model}@champion"
    assert deploy.timetable.asset_condition == FRAUD_MODEL_CHAMPION
    # A run the asset starts has the default params: it stops at the approval step.
    assert deploy.params["require_approval"] is True
    approve = deploy.get_task("approve")
    assert approve.upstream_task_ids == {"approval_required"} and approve.downstream_task_ids == {"replace_job"}
