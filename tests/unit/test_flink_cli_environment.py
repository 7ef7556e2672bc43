"""include/flink_jobs.py: the flink CLI logs the environment it passes on, so that holds no password."""

from __future__ import annotations

from include import flink_jobs, settings


def test_cli_environment_holds_no_password_nor_airflow_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOMETHING", '{"password": "hunter2"}')
    monkeypatch.setenv("SOME_SERVICE_PASSWORD", "hunter2")
    environment = flink_jobs.cli_environment()
    assert "hunter2" not in "".join(environment.values())
    assert not [name for name in environment if "PASSWORD" in name or name.startswith("AIRFLOW")]
    # What the SQL and the client need is still there.
    for name in ("KAFKA_BOOTSTRAP", "KAFKA_USERNAME", "PGPASSFILE", "AWS_SECRET_ACCESS_KEY", "FLINK_CONF_DIR"):
        assert environment[name] == settings.get(name) or name == "AWS_SECRET_ACCESS_KEY"
