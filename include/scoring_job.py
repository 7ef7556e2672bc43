"""The fraud scoring job as one deployable unit: its SQL files, its scoring config, and the names of
everything one running instance uses (topics, tables, consumer group).

The platform runs one instance, `Deployment.platform()`. Tests run their own instances side by side,
with their own topics, Iceberg namespace and DynamoDB table, through exactly the same SQL and UDF.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from include import aws, kafka_admin, model_registry, restore_points, settings
from include.flink_jobs import explain_sql, submit_sql
from include.flink_rest import TERMINAL_STATES, FlinkRest, Job
from include.messages import MAX_JUDGED_BYTES
from include.scoring import verdict_layout
from include.scoring.card_store import drop_tables, ensure_table
from include.scoring.runtime import RUNTIME_PARAMETER, SCORING_CONFIG_PARAMETER, feedback_snapshots

log = logging.getLogger(__name__)

SQL_DIR = settings.REPO_ROOT / "flink" / "sql"
SQL_FILES = [SQL_DIR / "catalog.sql", *sorted((SQL_DIR / "scoring").glob("*.sql"))]
DEFAULT_SCORING_CONFIG = settings.REPO_ROOT / "include" / "scoring" / "scoring.yaml"


@dataclass(frozen=True)
class Deployment:
    job_name: str
    transactions_topic: str
    feedback_topic: str
    alerts_topic: str
    dlq_topic: str
    namespace: str
    card_table: str
    alerts_delivery: str = "at-least-once"
    dynamodb_max_attempts: int | None = None  # None: the platform's DYNAMODB_MAX_ATTEMPTS
    iceberg_metadata_versions_kept: int | None = None  # None: the platform's ICEBERG_METADATA_VERSIONS_KEPT
    kafka_transaction_timeout_ms: int | None = None  # None: the platform's KAFKA_TRANSACTION_TIMEOUT_MS

    @classmethod
    def platform(cls) -> Deployment:
        s = settings.all_settings()
        return cls(
            s["SCORING_JOB_NAME"],
            s["TRANSACTIONS_TOPIC"],
            s["FEEDBACK_TOPIC"],
            s["ALERTS_TOPIC"],
            s["DLQ_TOPIC"],
            s["ICEBERG_NAMESPACE"],
            s["DYNAMODB_CARD_TABLE"],
            s["ALERTS_DELIVERY_GUARANTEE"],
        )

    @classmethod
    def named(cls, name: str, **options) -> Deployment:
        """An instance of its own, as the tests and benchmarks run: topics `<name>_tx`, `<name>_feedback`,
        `<name>_alerts`, `<name>_dlq`, and `name` for the job, the Iceberg namespace and the DynamoDB table.
        `options` set the remaining fields (alerts_delivery, ...)."""
        return cls(name, f"{name}_tx", f"{name}_feedback", f"{name}_alerts", f"{name}_dlq", name, name, **options)

    def sql_variables(self) -> dict[str, str]:
        """Values for ${NAME} in the job's SQL files (flink/sql/)."""
        return {
            "SCORING_JOB_NAME": self.job_name,
            "TRANSACTIONS_TOPIC": self.transactions_topic,
            "FEEDBACK_TOPIC": self.feedback_topic,
            "ALERTS_TOPIC": self.alerts_topic,
            "DLQ_TOPIC": self.dlq_topic,
            "ICEBERG_NAMESPACE": self.namespace,
            "ALERTS_DELIVERY_GUARANTEE": self.alerts_delivery,
            "MAX_JUDGED_BYTES": str(MAX_JUDGED_BYTES),
            **(
                {"ICEBERG_METADATA_VERSIONS_KEPT": str(self.iceberg_metadata_versions_kept)}
                if self.iceberg_metadata_versions_kept
                else {}
            ),
            **(
                {"KAFKA_TRANSACTION_TIMEOUT_MS": str(self.kafka_transaction_timeout_ms)}
                if self.kafka_transaction_timeout_ms
                else {}
            ),
            **verdict_layout.sql_variables(),
        }

    def transaction_timeout_s(self) -> float:
        """How long the broker keeps the job's Kafka transactions open before aborting them."""
        return (self.kafka_transaction_timeout_ms or settings.get_int("KAFKA_TRANSACTION_TIMEOUT_MS")) / 1000

    def udf_runtime(self) -> dict[str, str | int]:
        """What the UDF needs to know about this instance (endpoints and keys come from its environment)."""
        return {
            "job_name": self.job_name,
            "transactions_topic": self.transactions_topic,
            "feedback_topic": self.feedback_topic,
            "card_table": self.card_table,
            "dynamodb_max_attempts": self.dynamodb_max_attempts or settings.get_int("DYNAMODB_MAX_ATTEMPTS"),
            "card_cache_bytes": settings.get_int("SCORING_CARD_CACHE_MB") * 2**20,
        }

    def table(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def create_topics(self) -> None:
        """Creates the instance's topics that do not exist yet, and gives existing ones today's settings."""
        kafka_admin.create_topics(self.topics())

    def remove(self) -> None:
        """Cancels the instance's job and deletes its topics, Iceberg tables, DynamoDB table and checkpoints
        (tests, benchmark)."""
        from include.lakehouse import iceberg_catalog

        rest = flink()
        for job in running(self, rest):
            rest.cancel(job.id)
            rest.wait_for_state(job.id, set(TERMINAL_STATES))
        restore_points.remove_stored(self.job_name)
        feedback_snapshots(self.feedback_topic).delete()
        kafka_admin.delete_topics(list(self.topics()))
        catalog = iceberg_catalog()
        if (self.namespace,) in catalog.list_namespaces():
            for table in catalog.list_tables(self.namespace):
                catalog.purge_table(table)
            catalog.drop_namespace(self.namespace)
        drop_tables(aws.dynamodb_client(), self.card_table)

    def topics(self) -> dict[str, tuple[int, dict[str, str]]]:
        """The instance's topics: partitions and topic config.

        Transactions and feedback carry their event time as record timestamp, which is months or
        years old in a replay: time-based retention would delete them on arrival, so they are bounded
        by size instead (INPUT_TOPIC_RETENTION_BYTES per partition). The bound must stay above what
        the job may fall behind by: a restore from offsets already deleted would start from the
        earliest left. Record timestamps may not lie more than an hour ahead of the broker's clock (the
        job checks event times against them). Every topic takes records up to KAFKA_MAX_MESSAGE_BYTES,
        the size every producer of the platform is configured with.
        """
        s = settings.all_settings()
        sized = {"max.message.bytes": s["KAFKA_MAX_MESSAGE_BYTES"]}
        by_size = {
            **sized,
            "retention.ms": "-1",
            "retention.bytes": s["INPUT_TOPIC_RETENTION_BYTES"],
            "message.timestamp.after.max.ms": str(3_600_000),
        }
        keep_a_week = {**sized, "retention.ms": str(7 * 86_400_000)}
        return {
            self.transactions_topic: (int(s["TRANSACTIONS_PARTITIONS"]), by_size),
            self.feedback_topic: (int(s["FEEDBACK_PARTITIONS"]), by_size),
            self.alerts_topic: (int(s["ALERTS_PARTITIONS"]), keep_a_week),
            self.dlq_topic: (int(s["DLQ_PARTITIONS"]), keep_a_week),
        }


def flink() -> FlinkRest:
    return FlinkRest.platform()


def running(deployment: Deployment | None = None, rest: FlinkRest | None = None) -> list[Job]:
    return (rest or flink()).running_jobs((deployment or Deployment.platform()).job_name)


def submit(
    deployment: Deployment | None = None,
    scoring_config: Path = DEFAULT_SCORING_CONFIG,
    parallelism: int | None = None,
    from_savepoint: str | None = None,
    flink_config: dict[str, str] | None = None,
    sql_files: list[Path] | None = None,
    allow_non_restored_state: bool = False,
) -> str:
    """Creates the DynamoDB table if needed and submits the job; returns the Flink job id.
    `sql_files` replaces the job's SQL (the benchmark swaps the scoring step); `allow_non_restored_state`
    see flink_jobs.submit_sql."""
    deployment = deployment or Deployment.platform()
    ensure_table(aws.dynamodb_client(), deployment.card_table)
    with pinned(scoring_config) as config, job_parameter_files(deployment, config) as files:
        job_id = submit_sql(
            sql_files or SQL_FILES,
            flink_config=_flink_config(flink_config, parallelism),
            from_savepoint=from_savepoint,
            variables=deployment.sql_variables(),
            job_files=files,
            allow_non_restored_state=allow_non_restored_state,
        )
        restore_points.record_run(deployment.job_name, job_id, parallelism, config.read_text())
    return job_id


@contextlib.contextmanager
def pinned(scoring_config: Path) -> Iterator[Path]:
    """`scoring_config`, or, when its model is a registry reference (`models:/fraud@champion`), a copy
    naming the one version the reference resolves to now (model_registry.pin): the job, its restarts
    and its run record all score with that version until the next deploy."""
    original = Path(scoring_config).read_text()
    text, model = model_registry.pin(original)
    if text == original:
        yield Path(scoring_config)
        return
    log.info("scoring with %s", model.label if model else "the rules only: the registry names no model version")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as copy:
        copy.write(text)
        copy.flush()
        yield Path(copy.name)


def explain(deployment: Deployment | None = None, scoring_config: Path = DEFAULT_SCORING_CONFIG) -> str:
    """The optimized plan of the job, as Flink would run it."""
    deployment = deployment or Deployment.platform()
    with job_parameter_files(deployment, scoring_config) as files:
        return explain_sql(SQL_FILES, variables=deployment.sql_variables(), job_files=files)


def _flink_config(flink_config: dict[str, str] | None, parallelism: int | None) -> dict[str, str]:
    return {**(flink_config or {}), **({"parallelism.default": str(parallelism)} if parallelism else {})}


@contextlib.contextmanager
def job_parameter_files(deployment: Deployment, scoring_config: Path) -> Iterator[dict[str, Path]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as runtime:
        json.dump(deployment.udf_runtime(), runtime)
        runtime.flush()
        yield {SCORING_CONFIG_PARAMETER: Path(scoring_config), RUNTIME_PARAMETER: Path(runtime.name)}


@dataclass(frozen=True)
class Deployed:
    job_id: str
    savepoint: str | None  # the savepoint or checkpoint the job started from, if any
    replaced_job: str | None  # the job it replaced


def stop_for_upgrade(
    deployment: Deployment | None = None, rest: FlinkRest | None = None, from_savepoint: str | None = None
) -> tuple[str | None, str | None]:
    """Stops the instance's job, if one has not ended, so that the next version never writes beside it.
    Returns (the savepoint or checkpoint to start the next version from, the id of the job stopped).

    A RUNNING job stops with a savepoint (its sinks commit what they hold). A job on its way to or from
    RUNNING (created, restarting, failing) cannot take one: it is cancelled, and the next version resumes
    from the newest completed checkpoint or savepoint. So does a job that is not running at all (it died,
    or the Flink cluster restarted): see restore_points. `from_savepoint`, if given, is where the next
    version starts all the same (e.g. a roll-back)."""
    deployment = deployment or Deployment.platform()
    rest = rest or flink()
    stopped = None
    for job in running(deployment, rest):
        if job.state == "RUNNING":
            log.info("stopping %s (%s) with a savepoint", job.name, job.id)
            log.info("savepoint: %s", rest.stop_with_savepoint(job.id, restore_points.savepoint_dir(job.name)))
        else:
            log.info("cancelling %s (%s): it is %s, so it cannot take a savepoint", job.name, job.id, job.state)
            rest.cancel(job.id)
            rest.wait_for_state(job.id, set(TERMINAL_STATES))
        stopped = job.id
    resume = restore_points.latest(rest, deployment.job_name)
    log.info("newest checkpoint or savepoint of %s: %s", deployment.job_name, resume)
    if from_savepoint:
        log.info("starting from the requested savepoint %s, not %s", from_savepoint, resume)
        resume = from_savepoint
    return resume, stopped


def deploy(
    deployment: Deployment | None = None,
    scoring_config: Path = DEFAULT_SCORING_CONFIG,
    parallelism: int | None = None,
    from_savepoint: str | None = None,
    checkpoint_timeout_s: float = 300,
) -> Deployed:
    """Starts the job, or upgrades the running one without losing or repeating anything: stop it
    (`stop_for_upgrade`), then start the new version from where it stopped, or from `from_savepoint`.
    Returns once the new job is RUNNING and has completed its first checkpoint, and the state of earlier
    runs it no longer needs is deleted (`prune_state`)."""
    deployment = deployment or Deployment.platform()
    rest = flink()
    savepoint, replaced = stop_for_upgrade(deployment, rest, from_savepoint)
    job_id = submit(deployment, scoring_config, parallelism, from_savepoint=savepoint)
    rest.wait_for_state(job_id, {"RUNNING"})
    rest.checkpoint(job_id, timeout_s=checkpoint_timeout_s)
    prune_state(deployment, job_id)
    return Deployed(job_id, savepoint, replaced)


def prune_state(deployment: Deployment, job_id: str) -> list[str]:
    """Deletes the checkpoints and savepoints the instance's new run, which has completed a checkpoint,
    no longer needs (restore_points.prune); returns their paths."""
    deleted = restore_points.prune(deployment.job_name, job_id, settings.get_int("FLINK_SAVEPOINTS_KEPT"))
    log.info("deleted %d checkpoint or savepoint directories of earlier runs", len(deleted))
    return deleted


def restart(deployment: Deployment | None = None, rest: FlinkRest | None = None) -> tuple[str, str | None]:
    """Starts the instance's job again after it died, as it last ran: from its newest checkpoint or
    savepoint, with the scoring config and parallelism of its last run (restore_points.last_run, which
    outlives the JobManager). With no record of a run, with the default config and parallelism (and a
    warning saying so).
    Returns (the new job id, the checkpoint or savepoint it resumed from)."""
    deployment = deployment or Deployment.platform()
    rest = rest or flink()
    resume = restore_points.latest(rest, deployment.job_name)
    last = restore_points.last_run(deployment.job_name)
    if last is None:
        log.warning(
            "no run record of %s: restarting it with the default scoring config and parallelism", deployment.job_name
        )
        return submit(deployment, from_savepoint=resume), resume
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as previous_config:
        previous_config.write(last["scoring_config"])
        previous_config.flush()
        log.info(
            "restarting %s as its last run %s was submitted: parallelism %s and its scoring config",
            deployment.job_name,
            last["job_id"],
            last["parallelism"] or "of the SQL",
        )
        return submit(deployment, Path(previous_config.name), last["parallelism"], from_savepoint=resume), resume
