"""A savepoint the new version of the job cannot fully map (a SQL change removed an operator with state):
Flink refuses to start from it unless told to drop that state (`allow_non_restored_state`, a param of the
deploy DAG)."""

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
