"""include/platform_alerts.py: what a failed task's alert says, and its message."""

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
