"""MLflow's tracking server as the stack runs it: what a client logs is kept in PostgreSQL (not a local
file), an artifact uploaded through the server lands in the S3 bucket MLFLOW_ARTIFACTS_BUCKET, and a
model version registered under a name can be found again by an alias. Talks to its REST API with the
platform's login, as any MLflow client does."""

from __future__ import annotations

import psycopg2
import pytest
import requests

from include import aws, settings


@pytest.fixture
def mlflow():
    session = requests.Session()
    session.auth = (settings.get("MLFLOW_TRACKING_USERNAME"), settings.get("MLFLOW_TRACKING_PASSWORD"))
    base = settings.get("MLFLOW_TRACKING_URI")

    def call(method: str, path: str, **kwargs) -> dict:
        answer = session.request(method, f"{base}{path}", timeout=30, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.content else {}

    return call


def test_a_run_is_kept_in_postgres_and_its_artifact_in_s3(mlflow, unique_name):
    experiment_id = mlflow("POST", "/api/2.0/mlflow/experiments/create", json={"name": unique_name})["experiment_id"]
    run = mlflow("POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})["run"]["info"]
    mlflow("POST", "/api/2.0/mlflow/runs/log-parameter", json={"run_id": run["run_id"], "key": "trees", "value": "200"})
    mlflow(
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run["run_id"], "key": "ap", "value": 0.75, "timestamp": 0, "step": 0},
    )
    # Uploaded through the server's artifact proxy, as MLflow clients do with --serve-artifacts.
    assert run["artifact_uri"].startswith("mlflow-artifacts:/")
    relative = run["artifact_uri"].removeprefix("mlflow-artifacts:/").lstrip("/")
    mlflow("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{relative}/model.txt", data=b"a model")

    with (
        psycopg2.connect(
            host=settings.get("BIND_HOST"),
            port=settings.get("POSTGRES_PORT"),
            user=settings.get("POSTGRES_USER"),
            password=settings.get("POSTGRES_PASSWORD"),
            dbname=settings.get("MLFLOW_DB"),
        ) as db,
        db.cursor() as cur,
    ):
        cur.execute("select key, value from params where run_uuid = %s", (run["run_id"],))
        assert cur.fetchall() == [("trees", "200")]
    stored = aws.s3_client().get_object(Bucket=settings.get("MLFLOW_ARTIFACTS_BUCKET"), Key=f"{relative}/model.txt")
    assert stored["Body"].read() == b"a model"
    mlflow("POST", "/api/2.0/mlflow/experiments/delete", json={"experiment_id": experiment_id})


def test_a_registered_version_is_found_by_its_alias(mlflow, unique_name):
    mlflow("POST", "/api/2.0/mlflow/registered-models/create", json={"name": unique_name})
    try:
        for _ in range(2):
            mlflow("POST", "/api/2.0/mlflow/model-versions/create", json={"name": unique_name, "source": "s3://x/y"})
        mlflow(
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            json={"name": unique_name, "alias": "champion", "version": "1"},
        )
        found = mlflow(
            "GET", "/api/2.0/mlflow/registered-models/alias", params={"name": unique_name, "alias": "champion"}
        )
        assert found["model_version"]["version"] == "1"
    finally:
        mlflow("DELETE", "/api/2.0/mlflow/registered-models/delete", json={"name": unique_name})
