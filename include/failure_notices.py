"""What every task of the platform's DAGs gets (`task_defaults`, their `default_args`): a bound on how long
one try may run, retries, and a notice on the platform alerts topic when it has failed for good.

A red run in the Airflow UI tells nobody; the 5-minute health check of the scoring job, the nightly marts
and a deploy nobody watches must reach a person. Airflow calls on_failure_callback once the task's
retries are spent (a retry does not notify), in the task's own process.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import BaseNotifier

from include import platform_alerts


class PlatformAlertNotifier(BaseNotifier):
    """Publishes a failed task as a platform alert (include/platform_alerts.py), through the Kafka
    connection `kafka_default`."""

    def notify(self, context) -> None:
        from include import airflow_connections

        airflow_connections.export_to_settings()
        ti = context["ti"]
        platform_alerts.publish(
            platform_alerts.task_failure(
                ti.dag_id, ti.task_id, ti.run_id, ti.try_number, context.get("exception"), getattr(ti, "log_url", "")
            )
        )


def task_defaults(
    execution_timeout: timedelta, retries: int = 1, retry_delay: timedelta = timedelta(minutes=1)
) -> dict:
    """`default_args` of a platform DAG: each try ends after `execution_timeout`, and a task that failed
    every try is announced on the platform alerts topic."""
    return {
        "retries": retries,
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": [PlatformAlertNotifier()],
    }
