"""Where a streaming job can resume from: its newest completed checkpoint or savepoint.

Two sources, the newest point of either wins:

* the JobManager, for the runs of the job it remembers: it forgets ended jobs after an hour
  (`jobstore.expiration-time`) and all of them when it restarts;
* the job's own directories, which outlive the JobManager: the job writes its checkpoints under
  FLINK_CHECKPOINT_DIR/<job name>/<job id>/chk-<n> (flink/sql/scoring/1_job_settings.sql) and the
  platform takes its savepoints into FLINK_SAVEPOINT_DIR/<job name>/ (`savepoint_dir`).

A checkpoint or savepoint is complete once its `_metadata` file exists: Flink writes that file last.
"""

from __future__ import annotations

from pyarrow import fs

from include import config
from include.flink_rest import FlinkRest


def checkpoint_dir(job_name: str) -> str:
    return f"{config.get('FLINK_CHECKPOINT_DIR')}/{job_name}"


def savepoint_dir(job_name: str) -> str:
    return f"{config.get('FLINK_SAVEPOINT_DIR')}/{job_name}"


def stored(job_name: str) -> list[tuple[int, str]]:
    """The job's complete checkpoints and savepoints in its directories, as (epoch ms written, path)."""
    points = []
    for root in (checkpoint_dir(job_name), savepoint_dir(job_name)):
        filesystem, base = fs.FileSystem.from_uri(root)
        for info in filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True)):
            if info.type == fs.FileType.File and info.base_name == "_metadata":
                relative = info.path.removeprefix(base).removesuffix("/_metadata")
                points.append((int(info.mtime.timestamp() * 1000), root + relative))
    return points


def latest(rest: FlinkRest, job_name: str) -> str | None:
    """The newest point to resume the job from, whatever the JobManager remembers; None if there is none."""
    known = [point for job in rest.jobs() if job.name == job_name and (point := rest.restore_point(job.id))]
    return max(known + stored(job_name), default=(0, None))[1]


def remove_stored(job_name: str) -> None:
    """Deletes the job's checkpoint and savepoint directories (an instance removed for good)."""
    for root in (checkpoint_dir(job_name), savepoint_dir(job_name)):
        filesystem, base = fs.FileSystem.from_uri(root)
        if filesystem.get_file_info(base).type != fs.FileType.NotFound:
            filesystem.delete_dir(base)
