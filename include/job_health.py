"""Health of the running scoring job: what the health DAG checks, as plain functions.

`problems` measures the job (checkpoint age, restarts, consumer lag) and returns what is wrong, one
sentence each, with the figures behind it; the DAG fails with all of them. `RestartGuard` decides whether
the DAG may restart a dead job once more, or has restarted it so often lately that a person must look.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition

from include import kafka_admin, kafka_config
from include.flink_rest import FlinkRest


@dataclass(frozen=True)
class Bounds:
    max_checkpoint_age_s: float = 120.0
    max_new_restarts: int = 3
    max_consumer_lag: int = 100_000


@dataclass(frozen=True)
class RestartGuard:
    """At most `max_restarts` restarts by the health DAG within `window_s`: a job that dies again after each
    restart (a bad config, a poison the job cannot survive, a service that stays down) is not restarted
    forever, with each restart re-reading its sources; the DAG fails instead, saying so."""

    max_restarts: int = 3
    window_s: float = 3600.0

    def recent(self, restarted_at: list[float], now: float) -> list[float]:
        """The restarts (epoch seconds) still inside the window."""
        return sorted(t for t in restarted_at if now - self.window_s < t <= now)

    def allows(self, restarted_at: list[float], now: float) -> bool:
        return len(self.recent(restarted_at, now)) < self.max_restarts


def late_restart_warning(down_s: float, transaction_timeout_s: float) -> str | None:
    """What a restart after `down_s` seconds without a checkpoint may have lost, if that is longer than the
    Kafka transaction timeout; None otherwise.

    Flink's exactly-once Kafka sinks commit a checkpoint's transaction once the checkpoint completes, and
    commit it again from the checkpoint on a restore. If the job died in between and stayed down longer
    than the timeout, the broker has aborted that transaction: its dead letters are missing from the
    dead-letter topic (they are in Iceberg's dead_letters table), and with exactly-once alerts, its alerts
    from fraud_alerts (the rows are in scored_transactions)."""
    if down_s <= transaction_timeout_s:
        return None
    return (
        f"the job was down {down_s / 60:.0f} min, longer than the Kafka transaction timeout "
        f"({transaction_timeout_s / 60:.0f} min): the broker may have aborted the transaction of its last "
        f"checkpoint, so that checkpoint's dead letters (and alerts, if exactly-once) may be missing on Kafka; "
        f"Iceberg holds them all (dead_letters, scored_transactions)"
    )


def checkpoint_age_s(rest: FlinkRest, job_id: str) -> float | None:
    """Seconds since the last completed checkpoint (None: none yet)."""
    completed = rest.latest_checkpoint(job_id)
    if not completed:
        return None
    return time.time() - completed["latest_ack_timestamp"] / 1000


def restarts(rest: FlinkRest, job_id: str, wait_s: float = 15) -> int:
    """How often the job restarted (Flink's numRestarts). The JobManager lists no metric for the first
    seconds after a submission (its REST API fetches metrics every few seconds): waited for, up to
    `wait_s`, then an error: an absent metric is not zero restarts."""
    deadline = time.monotonic() + wait_s
    while (count := rest.job_metric(job_id, "numRestarts")) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the JobManager reports no numRestarts for job {job_id} after {wait_s:.0f} s")
        time.sleep(1)
    return int(count)


def consumer_lag(group: str, topic: str) -> int:
    """Records in `topic` the job's consumer group has not committed yet (Flink commits on checkpoints)."""
    admin = kafka_admin.admin_client()
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])]
    committed = admin.list_consumer_group_offsets(request)[group].result(timeout=10).topic_partitions
    reader = Consumer(kafka_config.client_config({"group.id": f"{group}-lag"}))
    try:
        lag = 0
        for tp in committed:
            _, high = reader.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        reader.close()


def problems(
    rest: FlinkRest, job_name: str, topic: str, bounds: Bounds, restarts_before: int | None
) -> tuple[list[str], dict]:
    """Everything wrong with the job now, and the figures behind it."""
    running = rest.running_jobs(job_name)
    if not running:
        states = sorted({j.state for j in rest.jobs(job_name)})
        return [f"job {job_name} is not running (known states: {states or 'never submitted'})"], {}
    job = running[0]
    found, figures = [], {"job_id": job.id, "state": job.state}
    age = checkpoint_age_s(rest, job.id)
    figures["checkpoint_age_s"] = age
    if age is None or age > bounds.max_checkpoint_age_s:
        found.append(
            f"last completed checkpoint is {'missing' if age is None else f'{age:.0f} s old'} "
            f"(bound {bounds.max_checkpoint_age_s:.0f} s): sinks are not committing"
        )
    figures["restarts"] = count = restarts(rest, job.id)
    if restarts_before is not None and count - restarts_before > bounds.max_new_restarts:
        found.append(
            f"{count - restarts_before} restarts since the last check (bound {bounds.max_new_restarts}): "
            f"latest exception: {rest.exceptions(job.id)[:1]}"
        )
    figures["consumer_lag"] = lag = consumer_lag(job_name, topic)
    if lag > bounds.max_consumer_lag:
        found.append(
            f"consumer lag on {topic} is {lag:,} records (bound {bounds.max_consumer_lag:,}): the job falls behind"
        )
    return found, figures
