"""Where a new run of the job starts from. A savepoint the new version cannot fully map (a SQL change
removed an operator with state): Flink refuses to start from it unless told to drop that state
(`allow_non_restored_state`, a param of the deploy DAG). An instance removed and deployed again: from
nothing."""

from __future__ import annotations

import pytest

from bench import pipeline
from include import restore_points, scoring_job
from include.flink_jobs import SubmitError

pytestmark = pytest.mark.slow

FEEDBACK_TABLE_INSERT = "INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback"


def test_state_of_a_removed_operator_is_dropped_only_when_allowed(unique_name, tmp_path):
    deployment = pipeline.new_deployment(unique_name)
    rest = scoring_job.flink()
    try:
        first = scoring_job.deploy(deployment)
        savepoint = rest.stop_with_savepoint(first.job_id, restore_points.savepoint_dir(deployment.job_name))
        # The next version no longer writes feedback to Iceberg: that writer's and committer's state maps to nothing.
        inserts = scoring_job.SQL_DIR / "scoring" / "6_inserts.sql"
        changed = tmp_path / inserts.name
        text = inserts.read_text()
        changed.write_text(text[: text.index(FEEDBACK_TABLE_INSERT)])
        files = [changed if f == inserts else f for f in scoring_job.SQL_FILES]

        with pytest.raises(SubmitError, match="allowNonRestoredState"):
            scoring_job.submit(deployment, from_savepoint=savepoint, sql_files=files)
        job_id = scoring_job.submit(
            deployment, from_savepoint=savepoint, sql_files=files, allow_non_restored_state=True
        )
        rest.wait_for_state(job_id, {"RUNNING"})
        assert rest.checkpoints(job_id)["latest"]["restored"]["external_path"].endswith(savepoint.split("/")[-1])
    finally:
        deployment.remove()


def test_an_instance_removed_and_deployed_again_under_its_name_starts_afresh(unique_name):
    """The JobManager keeps listing the removed run and its checkpoint, which `remove` deleted: the second
    deploy must not try to resume from it (bench.quality_replay reuses its instance's name)."""
    deployment = pipeline.new_deployment(unique_name)
    rest = scoring_job.flink()
    try:
        first = scoring_job.deploy(deployment)
        remembered = rest.restore_point(first.job_id)
        newest = restore_points.latest(rest, deployment.job_name)
        # the same checkpoint, spelled file:/ by the JobManager and file:/// from the directory
        assert (
            remembered and newest and newest.split(":", 1)[1].lstrip("/") == remembered[1].split(":", 1)[1].lstrip("/")
        )
        deployment.remove()
        assert rest.restore_point(first.job_id) == remembered  # still listed, no longer on disk
        assert restore_points.latest(rest, deployment.job_name) is None

        deployment.create_topics()
        second = scoring_job.deploy(deployment)
        assert second.savepoint is None  # deploy returned: RUNNING, a first checkpoint completed
    finally:
        deployment.remove()
