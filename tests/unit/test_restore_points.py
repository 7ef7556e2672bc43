"""include/restore_points.py: the newest complete checkpoint or savepoint, from the JobManager or from
the job's directories, whichever is newer."""

from __future__ import annotations

import os

import pytest

from include import restore_points, settings
from include.flink_rest import Job


@pytest.fixture
def state_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("FLINK_CHECKPOINT_DIR", f"file://{tmp_path}/checkpoints")
    monkeypatch.setenv("FLINK_SAVEPOINT_DIR", f"file://{tmp_path}/savepoints")
    settings.all_settings.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    settings.all_settings.cache_clear()


def _write(path, written_s: float, metadata: bool = True) -> None:
    path.mkdir(parents=True)
    (path / "state").write_bytes(b"x")
    if metadata:
        (path / "_metadata").write_bytes(b"m")
        os.utime(path / "_metadata", (written_s, written_s))


class KnownJobs:
    """The JobManager's side: jobs it remembers and each one's newest point."""

    def __init__(self, points: dict[Job, tuple[int, str] | None]):
        self.points = points

    def jobs(self, name: str | None = None) -> list[Job]:
        return [job for job in self.points if name is None or job.name == name]

    def restore_point(self, job_id: str) -> tuple[int, str] | None:
        return next(point for job, point in self.points.items() if job.id == job_id)


def test_finds_complete_checkpoints_and_savepoints_of_the_job_only(state_dirs):
    _write(state_dirs / "checkpoints/scoring/job1/chk-7", 1_000)
    _write(state_dirs / "checkpoints/scoring/job1/chk-8", 2_000, metadata=False)  # still being written
    _write(state_dirs / "savepoints/scoring/savepoint-job1-ab", 3_000)
    _write(state_dirs / "checkpoints/other/job2/chk-9", 9_000)
    assert sorted(restore_points.stored("scoring")) == [
        (1_000_000, f"file://{state_dirs}/checkpoints/scoring/job1/chk-7"),
        (3_000_000, f"file://{state_dirs}/savepoints/scoring/savepoint-job1-ab"),
    ]
    assert restore_points.stored("never-ran") == []


def test_latest_takes_the_newest_of_the_jobmanager_and_the_directories(state_dirs):
    _write(state_dirs / "checkpoints/scoring/job1/chk-7", 1_000)
    stored = f"file://{state_dirs}/checkpoints/scoring/job1/chk-7"
    _write(state_dirs / "restored/savepoint", 2_000)
    restored = f"file:{state_dirs}/restored/savepoint"  # the JobManager spells file URIs so
    forgotten = KnownJobs({})
    assert restore_points.latest(forgotten, "scoring") == stored
    newer = KnownJobs(
        {
            Job("j2", "scoring", "FAILED"): (2_000_000, restored),
            Job("j3", "other", "FAILED"): (5_000_000, "file:/not/this/job"),
        }
    )
    assert restore_points.latest(newer, "scoring") == restored
    deleted = KnownJobs({Job("j4", "scoring", "CANCELED"): (9_000_000, f"file:{state_dirs}/removed/chk-12")})
    assert restore_points.latest(deleted, "scoring") == stored  # remembered, but no longer on disk
    older = KnownJobs(
        {Job("j0", "scoring", "CANCELED"): (500_000, "file:/older"), Job("j1", "scoring", "FAILED"): None}
    )
    assert restore_points.latest(older, "scoring") == stored
    assert restore_points.latest(forgotten, "never-ran") is None


def test_remove_stored_deletes_both_directories_and_tolerates_none(state_dirs):
    _write(state_dirs / "checkpoints/scoring/job1/chk-7", 1_000)
    _write(state_dirs / "savepoints/scoring/savepoint-job1-ab", 3_000)
    restore_points.remove_stored("scoring")
    assert restore_points.stored("scoring") == []
    assert (state_dirs / "checkpoints").exists() and not (state_dirs / "checkpoints/scoring").exists()
    restore_points.remove_stored("scoring")


def test_prune_keeps_the_current_run_and_the_newest_savepoints(state_dirs):
    _write(state_dirs / "checkpoints/scoring/old/chk-3", 1_000)
    _write(state_dirs / "checkpoints/scoring/current/chk-9", 5_000)
    _write(state_dirs / "checkpoints/other/old/chk-1", 1_000)  # another job: left alone
    for n, written in enumerate((2_000, 4_000, 3_000)):
        _write(state_dirs / f"savepoints/scoring/savepoint-{n}", written)
    deleted = restore_points.prune("scoring", "current", keep_savepoints=2)
    root = f"file://{state_dirs}"
    assert sorted(deleted) == [f"{root}/checkpoints/scoring/old", f"{root}/savepoints/scoring/savepoint-0"]
    assert sorted(path for _, path in restore_points.stored("scoring")) == [
        f"{root}/checkpoints/scoring/current/chk-9",
        f"{root}/savepoints/scoring/savepoint-1",
        f"{root}/savepoints/scoring/savepoint-2",
    ]
    assert restore_points.stored("other")
    assert restore_points.prune("scoring", "current", keep_savepoints=2) == []
    assert restore_points.prune("never-ran", "any", keep_savepoints=2) == []


def test_the_run_record_keeps_the_newest_run_and_survives_pruning(state_dirs):
    assert restore_points.last_run("scoring") is None
    restore_points.record_run("scoring", "job1", None, "version: a\n")
    restore_points.record_run("scoring", "job2", 1, "version: b\n")
    _write(state_dirs / "savepoints/scoring/savepoint-job1-ab", 1_000)
    _write(state_dirs / "savepoints/scoring/savepoint-job1-cd", 2_000)
    restore_points.prune("scoring", "job2", keep_savepoints=1)
    record = restore_points.last_run("scoring")
    assert (record["job_id"], record["parallelism"], record["scoring_config"]) == ("job2", 1, "version: b\n")
    assert restore_points.last_run("other") is None
    restore_points.remove_stored("scoring")
    assert restore_points.last_run("scoring") is None
