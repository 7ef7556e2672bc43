"""include/platform_alerts.py: what a failed task's alert says, an Alertmanager notification's alerts, and
their message."""

from __future__ import annotations

import orjson

from include import platform_alerts


def test_a_failed_task_is_named_with_its_run_try_and_error():
    alert = platform_alerts.task_failure(
        "fraud_scoring_health", "check_job", "scheduled__2026-12-07T15:00:00+00:00", 2, ValueError("lag 120,000")
    )
    assert alert.key == "airflow_task_failed/fraud_scoring_health.check_job"
    assert alert.severity == "critical" and alert.status == "firing" and alert.source == "airflow"
    assert "fraud_scoring_health.check_job failed (run scheduled__2026-12-07T15:00:00+00:00, try 2)" in alert.summary
    assert alert.summary.endswith("ValueError: lag 120,000")
    assert alert.labels["run_id"] == "scheduled__2026-12-07T15:00:00+00:00"


def test_a_long_error_is_cut_and_a_missing_one_said():
    long = platform_alerts.task_failure("d", "t", "r", 1, "x" * 100_000)
    assert len(long.summary) == platform_alerts.SUMMARY_CHARS
    assert platform_alerts.task_failure("d", "t", "r", 1, None).summary.endswith("no error given")


def test_the_message_is_json_with_every_field():
    alert = platform_alerts.task_failure("d", "t", "r", 1, RuntimeError("boom"), log_url="http://x/log")
    message = orjson.loads(alert.json())
    assert set(message) == {"name", "subject", "severity", "summary", "source", "labels", "status", "at"}
    assert message["labels"]["log_url"] == "http://x/log"
    assert message["at"].endswith("+00:00")


NOTIFICATION = {
    "version": "4",
    "status": "resolved",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "CheckpointsStale",
                "severity": "critical",
                "subject": "fraud-scoring",
                "job_name": "fraud-scoring",
            },
            "annotations": {"summary": "fraud-scoring has completed no checkpoint for 2m 0s.", "runbook": "r"},
            "startsAt": "2026-12-07T18:41:25.991Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "ScrapeTargetDown", "instance": "127.0.0.1:9250", "job": "flink"},
            "annotations": {},
            "startsAt": "2026-12-07T18:00:00Z",
            "endsAt": "2026-12-07T18:05:00Z",
        },
    ],
}


def test_an_alertmanager_notification_gives_one_alert_each_firing_or_resolved():
    firing, resolved = platform_alerts.from_alertmanager(NOTIFICATION)
    assert firing.key == "CheckpointsStale/fraud-scoring" and firing.status == "firing"
    assert firing.severity == "critical" and firing.source == "prometheus"
    assert firing.summary == "fraud-scoring has completed no checkpoint for 2m 0s."
    assert firing.at == "2026-12-07T18:41:25.991Z" == firing.labels["starts_at"]
    assert firing.labels["job_name"] == "fraud-scoring" and firing.labels["runbook"] == "r"
    assert firing.labels["generator_url"].startswith("http://")
    assert "alertname" not in firing.labels and "severity" not in firing.labels
    # A rule without subject, severity or summary still gives a usable alert: its instance, a warning.
    assert resolved.key == "ScrapeTargetDown/127.0.0.1:9250" and resolved.severity == "warning"
    assert resolved.status == "resolved" and resolved.at == "2026-12-07T18:05:00Z"
    assert resolved.summary == "ScrapeTargetDown" and resolved.labels["starts_at"] == "2026-12-07T18:00:00Z"


def test_a_notification_without_alerts_gives_none():
    assert platform_alerts.from_alertmanager({"version": "4", "alerts": []}) == []
