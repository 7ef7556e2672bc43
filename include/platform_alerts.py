"""Platform alerts: what an operator must hear about, as one JSON message each on the Kafka topic
PLATFORM_ALERTS_TOPIC (keyed by the alert's name and subject, so one alert's messages stay in order).

Failed Airflow tasks publish here (include/failure_notices.py), and so do Prometheus' alert rules
(stack/prometheus/rules, through Alertmanager and stack/alert_webhook.py: `from_alertmanager`); whatever
reads operators' alerts (a pager bridge, a chat hook, the tests) reads this one topic. The topic keeps
PLATFORM_ALERTS_RETENTION_MS of alerts (30 days): it is a feed, not an archive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import orjson

from include import kafka_config, settings

SUMMARY_CHARS = 2000  # an exception's text can be long; the task log keeps all of it


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlatformAlert:
    name: str  # what is wrong, as a stable identifier: airflow_task_failed, ...
    subject: str  # what it is wrong with: dag_id.task_id, a job name, ...
    severity: str  # critical: needs a person now; warning: needs a look today
    summary: str  # one paragraph for a person
    source: str  # what raised it: airflow, prometheus
    labels: dict[str, str] = field(default_factory=dict)  # details to filter and link on
    status: str = "firing"  # firing, or resolved by a later message with the same key
    at: str = field(default_factory=_now)

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


def from_alertmanager(notification: dict) -> list[PlatformAlert]:
    """The alerts of one Alertmanager webhook notification (its JSON body, version 4), firing or resolved.
    Each rule names its `severity` and `subject` labels and a `summary` annotation (stack/prometheus/rules);
    every other label and annotation travels in `labels`."""
    alerts = []
    for alert in notification.get("alerts", []):
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        status = alert.get("status", "firing")
        alerts.append(
            PlatformAlert(
                name=labels.get("alertname", "unnamed"),
                subject=labels.get("subject") or labels.get("instance", ""),
                severity=labels.get("severity", "warning"),
                summary=annotations.get("summary", labels.get("alertname", ""))[:SUMMARY_CHARS],
                source="prometheus",
                labels={
                    **{k: str(v) for k, v in labels.items() if k not in ("alertname", "subject", "severity")},
                    **{k: str(v)[:SUMMARY_CHARS] for k, v in annotations.items() if k != "summary"},
                    "generator_url": alert.get("generatorURL", ""),
                    # When this episode began: its firing and resolved messages share it.
                    "starts_at": alert.get("startsAt", ""),
                },
                status=status,
                at=alert.get("endsAt" if status == "resolved" else "startsAt") or _now(),
            )
        )
    return alerts


def topics() -> dict[str, tuple[int, dict[str, str]]]:
    """The alerts topic: one partition (a few messages a day, read in order), kept by age."""
    return {settings.get("PLATFORM_ALERTS_TOPIC"): (1, {"retention.ms": settings.get("PLATFORM_ALERTS_RETENTION_MS")})}


def publish(alert: PlatformAlert, timeout_s: float = 15.0) -> None:
    """Sends the alert and waits until the broker has it; raises if it could not within `timeout_s`."""
    publish_all([alert], timeout_s)


def publish_all(alerts: list[PlatformAlert], timeout_s: float = 15.0) -> None:
    """Sends the alerts, in order, and waits until the broker has all of them; raises if it could not
    within `timeout_s`."""
    from confluent_kafka import Producer

    producer = Producer(
        kafka_config.client_config(
            {"enable.idempotence": True, "acks": "all", "message.timeout.ms": int(timeout_s * 1000)}
        )
    )
    topic, failures = settings.get("PLATFORM_ALERTS_TOPIC"), []
    for alert in alerts:
        producer.produce(
            topic,
            key=alert.key.encode(),
            value=alert.json(),
            on_delivery=lambda error, _message: failures.append(str(error)) if error else None,
        )
    if producer.flush(timeout_s) or failures:
        keys = ", ".join(alert.key for alert in alerts)
        raise RuntimeError(f"platform alerts {keys} not delivered: {failures or 'timed out'}")
