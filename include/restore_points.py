"""Where a streaming job can resume from, its newest completed checkpoint or savepoint, and how it last
ran (its run record).

Two sources, the newest point of either wins:

* the JobManager, for the runs of the job it remembers: it forgets ended jobs after a week
  (`jobstore.expiration-time`) and all of them when it restarts;
* the job's own directories, which outlive the JobManager: the job writes its checkpoints under
  FLINK_CHECKPOINT_DIR/<job name>/<job id>/chk-<n> (flink/sql/scoring/1_job_settings.sql) and the
  platform takes its savepoints into FLINK_SAVEPOINT_DIR/<job name>/ (`savepoint_dir`).

A checkpoint or savepoint is complete once its `_metadata` file exists: Flink writes that file last.
`prune` deletes what no restart needs any more, so the directories do not grow with every deploy.

The run record (`record_run`, `last_run`) sits beside the savepoints for the same reason: a restart after
the JobManager forgot the job still runs it with the scoring config and parallelism it was deployed with.
"""

from __future__ import annotations

import json
import time

from pyarrow import fs

from include import settings
from include.flink_rest import FlinkRest


def checkpoint_dir(job_name: str) -> str:
    return f"{settings.get('FLINK_CHECKPOINT_DIR')}/{job_name}"


def savepoint_dir(job_name: str) -> str:
    return f"{settings.get('FLINK_SAVEPOINT_DIR')}/{job_name}"


def _complete(root: str) -> list[tuple[int, str]]:
    """The complete checkpoints or savepoints under `root`, as (epoch ms written, path)."""
    filesystem, base = fs.FileSystem.from_uri(root)
    return [
        (int(info.mtime.timestamp() * 1000), root + info.path.removeprefix(base).removesuffix("/_metadata"))
        for info in filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        if info.type == fs.FileType.File and info.base_name == "_metadata"
    ]


def stored(job_name: str) -> list[tuple[int, str]]:
    """The job's complete checkpoints and savepoints in its directories, as (epoch ms written, path)."""
    return _complete(checkpoint_dir(job_name)) + _complete(savepoint_dir(job_name))


def latest(rest: FlinkRest, job_name: str) -> str | None:
    """The newest point to resume the job from, whatever the JobManager remembers; None if there is none.

    A point the JobManager remembers counts only while it is still complete on disk: an instance removed
    (`remove_stored`) and started again under the same name must start afresh, not from the deleted
    checkpoint of its earlier run, which the JobManager keeps listing until it forgets that job."""
    remembered = [point for job in rest.jobs(job_name) if (point := rest.restore_point(job.id))]
    return max([p for p in remembered if _is_complete(p[1])] + stored(job_name), default=(0, None))[1]


def _is_complete(path: str) -> bool:
    filesystem, local = fs.FileSystem.from_uri(path)
    return filesystem.get_file_info(f"{local.rstrip('/')}/_metadata").type == fs.FileType.File


def remove_stored(job_name: str) -> None:
    """Deletes the job's checkpoint and savepoint directories (an instance removed for good)."""
    for root in (checkpoint_dir(job_name), savepoint_dir(job_name)):
        filesystem, base = fs.FileSystem.from_uri(root)
        if filesystem.get_file_info(base).type != fs.FileType.NotFound:
            filesystem.delete_dir(base)


def prune(job_name: str, current_job_id: str, keep_savepoints: int) -> list[str]:
    """Deletes the checkpoints of every run of the job but `current_job_id`, and all but the newest
    `keep_savepoints` complete savepoints (kept for roll-backs); returns what it deleted.

    Call it only once the current run has completed a checkpoint: a run restored from another's checkpoint
    or savepoint writes a full checkpoint of its own first (Flink's default NO_CLAIM restore mode), so from
    then on it needs nothing of the older runs."""
    filesystem, base = fs.FileSystem.from_uri(checkpoint_dir(job_name))
    runs = [
        f"{checkpoint_dir(job_name)}/{info.base_name}"
        for info in filesystem.get_file_info(fs.FileSelector(base, allow_not_found=True))
        if info.type == fs.FileType.Directory and info.base_name != current_job_id
    ]
    old_savepoints = [path for _, path in sorted(_complete(savepoint_dir(job_name)), reverse=True)[keep_savepoints:]]
    for path in runs + old_savepoints:
        filesystem, local = fs.FileSystem.from_uri(path)
        filesystem.delete_dir(local)
    return runs + old_savepoints


def _run_record(job_name: str) -> str:
    return f"{savepoint_dir(job_name)}/last-run.json"


def record_run(job_name: str, job_id: str, parallelism: int | None, scoring_config: str) -> None:
    """Keeps how the job's newest run was submitted: `parallelism` None means the job's SQL default."""
    record = {
        "job_id": job_id,
        "submitted_ms": int(time.time() * 1000),
        "parallelism": parallelism,
        "scoring_config": scoring_config,
    }
    filesystem, path = fs.FileSystem.from_uri(_run_record(job_name))
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(path) as out:
        out.write(json.dumps(record).encode())


def last_run(job_name: str) -> dict | None:
    """The record of the job's newest run (job_id, submitted_ms, parallelism, scoring_config), or None if it
    never ran here or was removed."""
    filesystem, path = fs.FileSystem.from_uri(_run_record(job_name))
    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return None
    with filesystem.open_input_stream(path) as record:
        return json.loads(record.read())
