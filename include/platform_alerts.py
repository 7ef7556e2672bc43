"""Platform alerts: what an operator must hear about, as one JSON message each on the Kafka topic
PLATFORM_ALERTS_TOPIC (keyed by the alert's name and subject, so one alert's messages stay in order).

Failed Airflow tasks publish here (include/failure_notices.py); whatever reads operators' alerts (a
pager bridge, a chat hook, the tests) reads this one topic. The topic keeps PLATFORM_ALERTS_RETENTION_MS
of alerts (30 days): it is a feed, not an archive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import orjson

from include import kafka_config, settings

SUMMARY_CHARS = 2000  # an exception's text can be long; the task log keeps all of it


@dataclass(frozen=True)
class PlatformAlert:
    name: str  # what is wrong, as a stable identifier: airflow_task_failed, ...
    subject: str  # what it is wrong with: dag_id.task_id, a job name, ...
    severity: str  # critical: needs a person now; warning: needs a look today
    summary: str  # one paragraph for a person
    source: str  # what raised it: airflow, ...
    labels: dict[str, str] = field(default_factory=dict)  # details to filter and link on
    status: str = "firing"  # firing, or resolved by a later message with the same key
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def key(self) -> str:
        return f"{self.name}/{self.subject}"

    def json(self) -> bytes:
        return orjson.dumps(asdict(self))


def task_failure(
    dag_id: str, task_id: str, run_id: str, try_number: int, error: BaseException | str | None, log_url: str = ""
) -> PlatformAlert:
    """The alert for a task that failed for good (its retries spent): a scheduled check or a deploy
    that nobody watches must still reach a person."""
    reason = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "no error given")
    return PlatformAlert(
        name="airflow_task_failed",
        subject=f"{dag_id}.{task_id}",
        severity="critical",
        summary=f"{dag_id}.{task_id} failed (run {run_id}, try {try_number}): {reason}"[:SUMMARY_CHARS],
        source="airflow",
        labels={"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "log_url": log_url},
    )


def topics() -> dict[str, tuple[int, dict[str, str]]]:
    """The alerts topic: one partition (a few messages a day, read in order), kept by age."""
    return {settings.get("PLATFORM_ALERTS_TOPIC"): (1, {"retention.ms": settings.get("PLATFORM_ALERTS_RETENTION_MS")})}


def publish(alert: PlatformAlert, timeout_s: float = 15.0) -> None:
    """Sends the alert and waits until the broker has it; raises if it could not within `timeout_s`."""
    from confluent_kafka import Producer

    producer = Producer(
        kafka_config.client_config(
            {"enable.idempotence": True, "acks": "all", "message.timeout.ms": int(timeout_s * 1000)}
        )
    )
    failures: list[str] = []
    producer.produce(
        settings.get("PLATFORM_ALERTS_TOPIC"),
        key=alert.key.encode(),
        value=alert.json(),
        on_delivery=lambda error, _message: failures.append(str(error)) if error else None,
    )
    if producer.flush(timeout_s) or failures:
        raise RuntimeError(f"platform alert {alert.key} not delivered: {failures or 'timed out'}")
