"""docker-compose.yml describes the same stack as `make up`: every service, with the same host ports,
versions, heap sizes, topics and credentials as the settings files (include/platform.env, stack/stack.env). (No Docker engine runs
here, so the file is checked, not started.)"""

from __future__ import annotations

import configparser
import json
import re

import pytest
import yaml

from include import settings
from stack.services import SERVICES, kafka_topics

COMPOSE_FILE = settings.REPO_ROOT / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
S = settings.all_settings()


def _supervisor_programs() -> list[str]:
    parser = configparser.RawConfigParser()
    parser.read(settings.REPO_ROOT / "stack" / "supervisord.conf")
    return [section.split(":", 1)[1] for section in parser.sections() if section.startswith("program:")]


@pytest.mark.parametrize("program", _supervisor_programs())
def test_every_native_service_is_in_compose(program):
    assert program in COMPOSE, f"{program} runs natively but is missing from docker-compose.yml"


@pytest.mark.parametrize("service", [s for s in SERVICES.values() if s.ports], ids=lambda s: s.name)
def test_published_port_matches_platform_env(service):
    port = S[service.ports[0]]
    assert f"127.0.0.1:{port}:{port}" in COMPOSE[service.programs[0]].get("ports", []), (
        f"{service.programs[0]} should publish {service.ports[0]}={port} on 127.0.0.1"
    )


def test_versions_match_platform_env():
    postgres_major = re.search(r"/(\d+)/bin", S["POSTGRES_BIN"]).group(1)
    assert COMPOSE["postgres"]["image"] == f"postgres:{postgres_major}"
    assert COMPOSE["kafka"]["image"] == COMPOSE["kafka-init"]["image"] == f"apache/kafka:{S['KAFKA_VERSION']}"
    assert COMPOSE["trino"]["image"] == f"trinodb/trino:{S['TRINO_VERSION']}"
    assert COMPOSE["s3"]["image"] == f"andrewgaul/s3proxy:{S['S3PROXY_VERSION']}"
    assert f"dynalite@{S['DYNALITE_VERSION']}" in " ".join(COMPOSE["dynamodb"]["command"])
    assert COMPOSE["flink-jobmanager"]["image"].endswith(f":{S['FLINK_VERSION']}")
    airflow = re.search(
        r"^apache-airflow==([^\s\\]+)", (settings.REPO_ROOT / "requirements" / "app.lock.txt").read_text(), re.MULTILINE
    ).group(1)
    assert COMPOSE["airflow-api-server"]["image"].endswith(f":{airflow}")
    flink = _dockerfile_stages()["flink"]
    for name in (
        "FLINK_KAFKA_CONNECTOR_VERSION",
        "ICEBERG_VERSION",
        "ICEBERG_FLINK_RUNTIME",
        "HADOOP_VERSION",
        "POSTGRES_JDBC_VERSION",
    ):
        assert f"={S[name]} " in flink, f"the flink image does not use {name}={S[name]}"


def _dockerfile_stages() -> dict[str, str]:
    """The stages of stack/compose/platform.Dockerfile by name, each as its text."""
    text = (settings.REPO_ROOT / "stack" / "compose" / "platform.Dockerfile").read_text()
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, re.MULTILINE | re.DOTALL)
    }


def test_images_are_built_from_the_stages_of_one_dockerfile():
    stages = _dockerfile_stages()
    for name, spec in COMPOSE.items():
        if "build" in spec:
            assert spec["build"]["dockerfile"] == "stack/compose/platform.Dockerfile", name
            assert spec["build"]["target"] in stages, name


def test_the_airflow_image_has_what_its_dags_run():
    """The deploy DAG runs the Flink CLI (include/flink_jobs.py), the marts DAG runs dbt (cosmos) and reads the
    manifest that `dbt parse` writes: the image holds every Python environment of the native stack, from the
    same lock files, under the same VENV_DIR as the Flink image, and Java for the CLI."""
    airflow, flink = _dockerfile_stages()["airflow"], _dockerfile_stages()["flink"]
    assert "-r /tmp/app.lock.txt" in airflow and "COPY requirements/app.lock.txt" in airflow
    assert "$VENV_DIR/dbt/bin/pip install --no-cache-dir -r /tmp/dbt.lock.txt" in airflow
    assert "$VENV_DIR/flink/bin/pip install --no-cache-dir -r /tmp/flink.lock.txt" in flink
    assert "COPY --from=flink /opt/venvs/flink /opt/venvs/flink" in airflow
    assert "ENV VENV_DIR=/opt/venvs" in airflow and "ENV VENV_DIR=/opt/venvs" in flink
    assert "openjdk-17-jre-headless" in airflow
    for directory in ("FLINK_LIB_DIR", "FLINK_CONF_DIR", "FLINK_PLUGINS_DIR"):
        assert re.search(rf"{directory}=(\S+)", airflow).group(1) == re.search(rf"{directory}=(\S+)", flink).group(1)
    assert "parse_dbt_project()" in " ".join(COMPOSE["airflow-init"]["command"])


def test_memory_settings_match_platform_env():
    assert f"-Xmx{S['KAFKA_HEAP']}" in COMPOSE["kafka"]["environment"]["KAFKA_HEAP_OPTS"]
    assert f"-Xmx{S['TRINO_HEAP']}" in COMPOSE["trino"]["command"]
    assert f"-Xmx{S['S3PROXY_HEAP']}" in COMPOSE["s3"]["environment"]["JAVA_TOOL_OPTIONS"]
    assert f"-Djobmanager.memory.process.size={S['FLINK_JOBMANAGER_MEMORY']}" in COMPOSE["flink-jobmanager"]["command"]
    taskmanager = COMPOSE["flink-taskmanager"]["command"]
    assert f"-Dtaskmanager.memory.process.size={S['FLINK_TASKMANAGER_MEMORY']}" in taskmanager
    assert f"-Dtaskmanager.numberOfTaskSlots={S['FLINK_TASK_SLOTS']}" in taskmanager


def test_jit_settings_match_platform_env():
    jit = f"-XX:TieredStopAtLevel={S['LIGHT_JIT_LEVEL']}"
    assert jit in COMPOSE["s3"]["environment"]["JAVA_TOOL_OPTIONS"]
    assert jit == COMPOSE["trino"]["environment"]["JAVA_TOOL_OPTIONS"]
    assert f"-Denv.java.opts.jobmanager={jit} -XX:+AlwaysPreTouch" in COMPOSE["flink-jobmanager"]["command"]
    assert "-Denv.java.opts.taskmanager=-XX:+AlwaysPreTouch" in COMPOSE["flink-taskmanager"]["command"]
    assert not any("TieredStopAtLevel" in arg for arg in COMPOSE["flink-taskmanager"]["command"])


def test_topics_are_created_with_configured_partitions():
    command = " ".join(COMPOSE["kafka-init"]["command"])
    for topic, (partitions, topic_config) in kafka_topics().items():
        created = re.search(
            rf"--topic {topic} --partitions {partitions} --replication-factor 1((?: --config \S+)*)", command
        )
        assert created, topic
        assert sorted(created.group(1).split(" --config ")[1:]) == sorted(f"{k}={v}" for k, v in topic_config.items())
    assert COMPOSE["kafka"]["environment"]["KAFKA_MESSAGE_MAX_BYTES"] == S["KAFKA_MAX_MESSAGE_BYTES"]


def test_catalog_matches_platform_env_and_secrets_come_from_dot_env():
    env = COMPOSE["trino"]["environment"]
    for name in ("AWS_REGION", "POSTGRES_USER", "ICEBERG_CATALOG_NAME", "ICEBERG_WAREHOUSE"):
        assert env[name] == S[name], name
    # Every secret is read from .env (`make credentials` writes it); compose refuses to start without it.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "TRINO_PASSWORD"):
        assert env[name] == f"${{{name}:?run make credentials first}}", name
    text = COMPOSE_FILE.read_text()
    for former_default in (
        "fraudlocalsecret",
        "POSTGRES_PASSWORD: fraud\n",
        "local-only-jwt-secret",
        '"admin": "admin"',
    ):
        assert former_default not in text
    assert COMPOSE["trino"]["environment"]["TRINO_PORT"] == S["TRINO_PORT"]
    assert COMPOSE["postgres"]["environment"]["POSTGRES_DB"] == S["AIRFLOW_DB"]
    assert S["ICEBERG_CATALOG_DB"] in COMPOSE["airflow-api-server"]["environment"]["ICEBERG_CATALOG_JDBC_URL"]


def test_long_running_services_have_healthchecks_and_dependencies_exist():
    one_shot = {name for name, spec in COMPOSE.items() if spec.get("restart") == "no" or name.endswith("-init")}
    for name, spec in COMPOSE.items():
        for dependency in spec.get("depends_on", {}):
            assert dependency in COMPOSE, f"{name} depends on unknown {dependency}"
    for name in (
        "postgres",
        "s3",
        "dynamodb",
        "kafka",
        "flink-jobmanager",
        "trino",
        "airflow-api-server",
        "mlflow",
        "report",
    ):
        assert name not in one_shot and "healthcheck" in COMPOSE[name], f"{name} has no healthcheck"


def test_airflow_has_every_connection_of_the_native_stack_pointing_into_the_compose_network():
    env = COMPOSE["airflow-api-server"]["environment"]
    native = {name for name in S if name.startswith("AIRFLOW_CONN_")}
    assert native and native == {name for name in env if name.startswith("AIRFLOW_CONN_")}
    for name in native:
        assert S["BIND_HOST"] not in env[name], f"{name} points at loopback inside a container"
        # the same connection type and fields as the native one
        native_conn, compose_conn = json.loads(S[name]), json.loads(env[name])
        assert (native_conn["conn_type"], sorted(native_conn)) == (compose_conn["conn_type"], sorted(compose_conn)), (
            name
        )


def _flattened(tree: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@pytest.mark.parametrize("service", ["flink-jobmanager", "flink-taskmanager"])
def test_flink_containers_behave_like_the_native_cluster(service):
    native = _flattened(yaml.safe_load((settings.REPO_ROOT / "stack" / "conf" / "flink" / "config.yaml").read_text()))
    flags = dict(flag.removeprefix("-D").split("=", 1) for flag in COMPOSE[service]["command"] if flag.startswith("-D"))
    for key in (
        "heartbeat.interval",
        "heartbeat.timeout",
        "state.backend.type",
        "parallelism.default",
        "execution.checkpointing.num-retained",
        "execution.checkpointing.externalized-checkpoint-retention",
        "jobmanager.execution.failover-strategy",
        "jobstore.expiration-time",
    ):
        assert flags.get(key) == native[key], key


def test_airflow_sees_the_flink_state_where_the_flink_containers_write_it():
    """The scoring job writes checkpoints under FLINK_CHECKPOINT_DIR (set at submission, by Airflow); the
    deploy and health DAGs look for them there (include/restore_points.py)."""
    airflow, jobmanager = COMPOSE["airflow-scheduler"], COMPOSE["flink-jobmanager"]
    flags = dict(flag.removeprefix("-D").split("=", 1) for flag in jobmanager["command"] if flag.startswith("-D"))
    assert airflow["environment"]["FLINK_CHECKPOINT_DIR"] == flags["execution.checkpointing.dir"]
    assert airflow["environment"]["FLINK_SAVEPOINT_DIR"] == flags["execution.checkpointing.savepoint-dir"]
    flink_volume = next(v for v in jobmanager["volumes"] if v.startswith("flink:"))
    assert flink_volume in airflow["volumes"]


@pytest.mark.parametrize("service", ["airflow-scheduler", "flink-jobmanager"])
def test_logs_stay_out_of_the_mounted_checkout(service):
    """The checkout is mounted read-write into the Airflow and Flink containers; what the code logs
    (LOG_DIR, e.g. the Flink CLI's client log) must not land in it."""
    checkout = next(v.split(":")[1] for v in COMPOSE[service]["volumes"] if v.startswith("./:"))
    log_dir = COMPOSE[service]["environment"]["LOG_DIR"]
    assert not log_dir.startswith(checkout), f"{service} logs into the mounted checkout: {log_dir}"


def test_broker_allows_the_jobs_transaction_timeout():
    assert COMPOSE["kafka"]["environment"]["KAFKA_TRANSACTION_MAX_TIMEOUT_MS"] == S["KAFKA_TRANSACTION_TIMEOUT_MS"]
