"""The services of the local stack: what each needs before it starts, how to tell it is healthy, and
what it needs once it is (databases, bucket, topics). Start commands are in stack/supervisord.conf.

Every step here is idempotent: `make up` on a running or stopped stack converges to the same state.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import ssl
import string
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from include import aws, kafka_admin, lakehouse, platform_alerts, settings
from stack import credentials

CONF_TEMPLATES = settings.REPO_ROOT / "stack" / "conf"
PREPARE_TIMEOUT_S = 300  # bound on each one-off command run before a service starts (initdb, migrations)


@dataclass(frozen=True)
class Service:
    name: str
    programs: tuple[str, ...]  # supervisord programs (stack/supervisord.conf)
    ports: tuple[str, ...]  # platform.env variables holding the ports it binds
    check: Callable[[], str]  # raises when unhealthy, returns a one-line detail when healthy
    timeout_s: int = 60  # bound on the wait for the first healthy check
    prepare: Callable[[], None] | None = None  # before the programs start
    initialize: Callable[[], None] | None = None  # once healthy
    url_setting: str | None = None  # the platform.env variable holding where a person looks


def _path(name: str) -> Path:
    return Path(settings.get(name))


def _http_json(url: str, timeout: float = 3.0, context: ssl.SSLContext | None = None) -> dict:
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return json.loads(response.read())


def _open_signed_in(url: str, user: str, password: str):
    """urlopen of `url` with an HTTP Basic login (a context manager, as urlopen's answer is)."""
    from stack.http_login import basic_authorization

    request = urllib.request.Request(url, headers={"Authorization": basic_authorization(user, password)})
    return urllib.request.urlopen(request, timeout=3)


# requests lets these replace the CA a client was given (a session's `verify`): Airflow's Trino hook and
# dbt-trino would then distrust the stack's own Trino certificate. The services and dbt run without them.
CA_BUNDLE_OVERRIDES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def environment_without_ca_overrides() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in CA_BUNDLE_OVERRIDES}


def render_config(service: str, target: Path | None = None) -> None:
    """Renders stack/conf/<service>/** into `target` (default $RUN_DIR/conf/<service>/), filling ${NAME}
    from settings."""
    source = CONF_TEMPLATES / service
    target = target or _path("RUN_DIR") / "conf" / service
    for template in source.rglob("*"):
        if template.is_dir():
            continue
        out = target / template.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            out.touch(mode=0o600, exist_ok=True)  # some hold secrets (the S3 keys)
            out.chmod(0o600)
            out.write_text(string.Template(template.read_text()).substitute(settings.all_settings()))
        except KeyError as missing:
            raise RuntimeError(f"{template} uses {missing}, which platform.env does not define") from None


# --- PostgreSQL ---------------------------------------------------------------------------------------


def _postgres_dirs() -> tuple[Path, Path]:
    return _path("DATA_DIR") / "postgres", _path("RUN_DIR") / "postgres"


def _pg_connect(dbname: str = "postgres"):
    import psycopg2

    _, socket_dir = _postgres_dirs()
    return psycopg2.connect(
        host=str(socket_dir),
        port=settings.get("POSTGRES_PORT"),
        user="postgres",
        password=settings.get("POSTGRES_SUPERUSER_PASSWORD"),
        dbname=dbname,
        connect_timeout=3,
    )


def prepare_postgres() -> None:
    data, socket_dir = _postgres_dirs()
    owner = pwd.getpwnam("postgres")
    for directory in (data, socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data.chmod(0o700)
    for directory in (data, socket_dir):
        if subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(directory)]).returncode:
            raise RuntimeError(
                f"the postgres user cannot reach {directory}: every directory above it must "
                f"be searchable by others (chmod o+x), which a clone under /root is not; "
                f"clone elsewhere or set STACK_HOME to such a place"
            )
    if (data / "PG_VERSION").exists():
        return
    # Password (scram) authentication on the socket as over TCP: no local user gets in without one. The
    # superuser's password reaches initdb in a file only the postgres user reads, deleted right after.
    password_file = socket_dir / "initdb-password"
    password_file.write_text(settings.get("POSTGRES_SUPERUSER_PASSWORD"))
    password_file.chmod(0o600)
    os.chown(password_file, owner.pw_uid, owner.pw_gid)
    try:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(_path("POSTGRES_BIN") / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--encoding=UTF8",
                f"--pwfile={password_file}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
            ],
            check=True,
            capture_output=True,
            timeout=PREPARE_TIMEOUT_S,
        )
    finally:
        password_file.unlink()


def check_postgres() -> str:
    with _pg_connect() as conn, conn.cursor() as cur:
        cur.execute("select version()")
        return cur.fetchone()[0].split(" on ")[0]


ICEBERG_CATALOG_DDL = CONF_TEMPLATES / "postgres" / "iceberg_catalog.sql"


def initialize_postgres() -> None:
    user, password = settings.get("POSTGRES_USER"), settings.get("POSTGRES_PASSWORD")
    conn = _pg_connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", (user,))
        if cur.fetchone() is None:
            cur.execute(f'create role "{user}" login password %s', (password,))
        for db in map(settings.get, ("AIRFLOW_DB", "ICEBERG_CATALOG_DB", "MLFLOW_DB", "MLFLOW_AUTH_DB")):
            cur.execute("select 1 from pg_database where datname = %s", (db,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{db}" owner "{user}"')
    conn.close()
    import psycopg2

    with psycopg2.connect(
        host=settings.get("BIND_HOST"),
        port=settings.get("POSTGRES_PORT"),
        user=user,
        password=password,
        dbname=settings.get("ICEBERG_CATALOG_DB"),
    ) as catalog:
        with catalog.cursor() as cur:
            cur.execute(ICEBERG_CATALOG_DDL.read_text())


# --- S3 (S3Proxy) ---------------------------------------------------------------------------------------


def prepare_s3() -> None:
    (_path("DATA_DIR") / "s3").mkdir(parents=True, exist_ok=True)
    render_config("s3proxy")


def check_s3() -> str:
    buckets = [b["Name"] for b in aws.s3_client().list_buckets()["Buckets"]]
    return f"buckets: {', '.join(buckets) or '-'}"


def initialize_s3() -> None:
    client = aws.s3_client()
    existing = [b["Name"] for b in client.list_buckets()["Buckets"]]
    for bucket in (settings.get("ICEBERG_WAREHOUSE_BUCKET"), settings.get("MLFLOW_ARTIFACTS_BUCKET")):
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)


# --- DynamoDB (dynalite) ------------------------------------------------------------------------------


def prepare_dynamodb() -> None:
    (_path("DATA_DIR") / "dynamodb").mkdir(parents=True, exist_ok=True)


def check_dynamodb() -> str:
    return f"{len(aws.dynamodb_client().list_tables()['TableNames'])} tables"


# --- Kafka --------------------------------------------------------------------------------------------


# Written into the Kafka data directory once its metadata holds the SCRAM logins (see prepare_kafka).
KAFKA_LOGINS_MARKER = ".scram-logins"


def prepare_kafka() -> None:
    render_config("kafka")
    exporter = _path("RUN_DIR") / "conf" / "kafka" / "jmx-exporter.yml"
    login = credentials.jmx_exporter_login(settings.get("METRICS_SCRAPE_USER"), settings.get("METRICS_SCRAPE_PASSWORD"))
    exporter.write_text(exporter.read_text() + login)
    data = _path("DATA_DIR") / "kafka"
    if (data / "meta.properties").exists():
        if not (data / KAFKA_LOGINS_MARKER).exists():
            raise RuntimeError(
                f"{data} was formatted before Kafka required logins and holds none; run `make clean` (deletes "
                "the stack's data) and `make up` again"
            )
        return
    data.mkdir(parents=True, exist_ok=True)
    java = str(_path("JAVA17_HOME") / "bin" / "java")
    classpath = str(_path("CACHE_DIR") / f"kafka-{settings.get('KAFKA_VERSION')}" / "libs" / "*")
    cluster_id = subprocess.run(
        [java, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
        check=True,
        capture_output=True,
        text=True,
        timeout=PREPARE_TIMEOUT_S,
    ).stdout.strip()
    subprocess.run(
        [
            java,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            # The SCRAM logins, stored in the cluster's metadata (server.properties names them).
            "--add-scram",
            f"SCRAM-SHA-512=[name={settings.get('KAFKA_USERNAME')},password={settings.get('KAFKA_PASSWORD')}]",
            "--add-scram",
            f"SCRAM-SHA-512=[name=broker,password={settings.get('KAFKA_BROKER_PASSWORD')}]",
            "-c",
            str(_path("RUN_DIR") / "conf" / "kafka" / "server.properties"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=PREPARE_TIMEOUT_S,
    )
    (data / KAFKA_LOGINS_MARKER).touch()


def check_kafka() -> str:
    # A plain connect first: librdkafka would log every refused connection while the broker starts.
    socket.create_connection((settings.get("BIND_HOST"), settings.get_int("KAFKA_PORT")), timeout=2).close()
    metadata = kafka_admin.admin_client().list_topics(timeout=3)
    if not metadata.brokers:
        raise RuntimeError("no broker in metadata")
    _scraper_only(f"http://{settings.get('BIND_HOST')}:{settings.get('KAFKA_METRICS_PORT')}/metrics")
    return f"{len(metadata.brokers)} broker, {len(metadata.topics)} topics; metrics behind the scrape login"


def kafka_topics() -> dict[str, tuple[int, dict[str, str]]]:
    """The platform's topics: partitions and topic config (see Deployment.topics), and the operators'
    alerts topic."""
    from include.scoring_job import Deployment

    return Deployment.platform().topics() | platform_alerts.topics()


def initialize_kafka() -> None:
    kafka_admin.create_topics(kafka_topics())


# --- Flink --------------------------------------------------------------------------------------------


def prepare_flink() -> None:
    render_config("flink", _path("FLINK_CONF_DIR"))
    # Logging setup as Flink ships it (console for start-foreground, files for the CLI).
    for log_config in (_path("FLINK_DIST") / "conf").glob("log4j*.properties"):
        shutil.copy(log_config, _path("FLINK_CONF_DIR") / log_config.name)
    for sub in ("checkpoints", "savepoints"):
        (_path("DATA_DIR") / "flink" / sub).mkdir(parents=True, exist_ok=True)
    (_path("LOG_DIR") / "flink").mkdir(parents=True, exist_ok=True)


def check_flink() -> str:
    from include.flink_rest import FlinkRest

    overview = FlinkRest.platform(timeout_s=3).overview()
    if overview["taskmanagers"] < 1:
        raise RuntimeError("no TaskManager registered")
    if overview["slots-total"] < 1:
        raise RuntimeError("TaskManager registered but offers no slots yet")
    return (
        f"Flink {overview['flink-version']}, {overview['taskmanagers']} TaskManager, "
        f"{overview['slots-available']}/{overview['slots-total']} slots free, "
        f"{overview['jobs-running']} jobs running"
    )


def _refuses_anonymous(url: str, method: str = "GET") -> None:
    """Raises unless `url` answers a caller without a login with 401."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=3)
        raise RuntimeError(f"{url} answered without a login")
    except urllib.error.HTTPError as refused:
        if refused.code != 401:
            raise


def _signed_in_only(url: str, user: str, password: str, anonymous_method: str = "GET") -> bytes:
    """The body `url` answers `user`, after checking it refuses a caller without a login
    (`anonymous_method`: the request the service's clients make)."""
    _refuses_anonymous(url, anonymous_method)
    with _open_signed_in(url, user, password) as answer:
        return answer.read()


def check_flink_ui() -> str:
    """The login proxy refuses a caller without the login and passes the UI's calls on to Flink."""
    url = f"{settings.get('FLINK_UI_URL')}/overview"
    overview = json.loads(_signed_in_only(url, settings.get("FLINK_UI_USER"), settings.get("FLINK_UI_PASSWORD")))
    return f"login required, Flink {overview['flink-version']} behind it"


# --- Trino --------------------------------------------------------------------------------------------


def prepare_trino() -> None:
    # Trino reads stack/conf/trino as it is: its files name settings as ${ENV:NAME}.
    (_path("DATA_DIR") / "trino").mkdir(parents=True, exist_ok=True)


def check_trino() -> str:
    info = _http_json(
        f"{settings.get('TRINO_URL')}/v1/info", context=ssl.create_default_context(cafile=settings.get("TRINO_CA_FILE"))
    )
    if info.get("starting", True):
        raise RuntimeError("still starting")
    schemas = lakehouse.trino_query("show schemas")
    return f"Trino {info['nodeVersion']['version']}, catalog {settings.get('ICEBERG_CATALOG_NAME')}: {len(schemas)} schemas"


# --- Airflow ------------------------------------------------------------------------------------------


def _airflow(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(settings.REPO_ROOT)}
    result = subprocess.run(
        [str(_path("VENV_DIR") / "app" / "bin" / "airflow"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=PREPARE_TIMEOUT_S,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{tail}")


def prepare_airflow() -> None:
    home = _path("AIRFLOW_HOME")
    home.mkdir(parents=True, exist_ok=True)
    passwords = Path(settings.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"))
    passwords.touch(mode=0o600, exist_ok=True)
    passwords.chmod(0o600)
    passwords.write_text(json.dumps({settings.get("AIRFLOW_ADMIN_USER"): settings.get("AIRFLOW_ADMIN_PASSWORD")}))
    _airflow("db", "migrate")
    pool = settings.get("SCORING_JOB_POOL")
    _airflow("pools", "set", pool, "1", "the scoring job: deploy swaps and health restarts, one at a time")
    parse_dbt_project()


DBT_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


def dbt_manifest_is_current() -> bool:
    """Whether dbt_project/target/manifest.json is newer than every file of the dbt project."""
    project = settings.REPO_ROOT / "dbt_project"
    manifest = project / "target" / "manifest.json"
    if not manifest.exists():
        return False
    sources = [path for name in DBT_SOURCES for path in [project / name, *(project / name).rglob("*")]]
    return max(path.stat().st_mtime for path in sources if path.exists()) < manifest.stat().st_mtime


def parse_dbt_project() -> None:
    """dbt_project/target/manifest.json, from which the marts DAG (cosmos) reads the dbt graph. The profile
    reads the settings from the environment: given here, so a caller other than `make up` (the DAG tests
    finding the manifest stale) can parse too."""
    project = settings.REPO_ROOT / "dbt_project"
    result = subprocess.run(
        [
            str(_path("VENV_DIR") / "dbt" / "bin" / "dbt"),
            "parse",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=PREPARE_TIMEOUT_S,
        env={**os.environ, **settings.all_settings()},
    )
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{(result.stdout + result.stderr)[-3000:]}")


def check_airflow() -> str:
    health = _http_json(f"{settings.get('AIRFLOW_URL')}/api/v2/monitor/health")
    components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    sick = [c for c in components if health.get(c, {}).get("status") != "healthy"]
    if sick:
        raise RuntimeError(f"not healthy yet: {', '.join(sick)}")
    return "API server, scheduler, DAG processor and triggerer healthy"


# --- MLflow ---------------------------------------------------------------------------------------------


def prepare_mlflow() -> None:
    (_path("DATA_DIR") / "mlflow").mkdir(parents=True, exist_ok=True)  # its working directory


def check_mlflow() -> str:
    """Healthy when it answers a signed-in search of the registry (its /health answers before the login
    and the database work)."""
    url = f"{settings.get('MLFLOW_TRACKING_URI')}/api/2.0/mlflow/registered-models/search?max_results=100"
    with _open_signed_in(
        url, settings.get("MLFLOW_TRACKING_USERNAME"), settings.get("MLFLOW_TRACKING_PASSWORD")
    ) as answer:
        models = json.load(answer).get("registered_models", [])
    return f"signed in; registered models: {len(models)}"


# --- Monitoring: Prometheus, Alertmanager, the node exporter, the alert webhook -------------------------


def prepare_prometheus() -> None:
    (_path("DATA_DIR") / "prometheus").mkdir(parents=True, exist_ok=True)
    render_config("prometheus")
    _check_config(["/usr/bin/promtool", "check", "config", str(_path("RUN_DIR") / "conf/prometheus/prometheus.yml")])


def _monitoring_json(url: str) -> dict:
    with _open_signed_in(url, settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD")) as answer:
        return json.load(answer)


def check_prometheus() -> str:
    """Ready, signed in only; says how many targets are up and how many alert rules it loaded."""
    base = settings.get("PROMETHEUS_URL")
    _refuses_anonymous(f"{base}/-/ready")
    targets = _monitoring_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
    groups = _monitoring_json(f"{base}/api/v1/rules?type=alert")["data"]["groups"]
    if not groups:
        raise RuntimeError("no alert rules loaded")
    up = sum(target["health"] == "up" for target in targets)
    return f"login required; {up}/{len(targets)} targets up, {sum(len(g['rules']) for g in groups)} alert rules"


def prepare_alertmanager() -> None:
    (_path("DATA_DIR") / "alertmanager").mkdir(parents=True, exist_ok=True)
    render_config("alertmanager")
    _check_config(["/usr/bin/amtool", "check-config", str(_path("RUN_DIR") / "conf/alertmanager/alertmanager.yml")])


def _check_config(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=PREPARE_TIMEOUT_S)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)}:\n{result.stdout}{result.stderr}")


def check_alertmanager() -> str:
    url = f"{settings.get('ALERTMANAGER_URL')}/api/v2/status"
    status = json.loads(_signed_in_only(url, settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD")))
    return f"login required; Alertmanager {status['versionInfo']['version']}, cluster {status['cluster']['status']}"


def _scraper_only(url: str, anonymous_method: str = "GET") -> bytes:
    return _signed_in_only(
        url, settings.get("METRICS_SCRAPE_USER"), settings.get("METRICS_SCRAPE_PASSWORD"), anonymous_method
    )


def check_node_exporter() -> str:
    metrics = _scraper_only(f"http://{settings.get('BIND_HOST')}:{settings.get('NODE_EXPORTER_PORT')}/metrics")
    return f"login required; {len(metrics):,} bytes of metrics"


def check_alert_webhook() -> str:
    _scraper_only(f"{settings.get('ALERT_WEBHOOK_URL')}/alerts", anonymous_method="POST")
    return f"login required; posts alerts to {settings.get('PLATFORM_ALERTS_TOPIC')}"


def check_dashboard() -> str:
    page = _signed_in_only(
        f"{settings.get('DASHBOARD_URL')}/", settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD")
    )
    return f"login required; {len(page):,} bytes drawn from Prometheus"


# --- The report page ----------------------------------------------------------------------------------


def prepare_report() -> None:
    report = _path("REPORT_DIR")
    report.mkdir(parents=True, exist_ok=True)
    if not (report / "index.html").exists():
        (report / "index.html").write_text(
            "<!doctype html><title>Fraud report</title><h1>Card fraud report</h1>"
            "<p>No report yet: it is generated by the fraud_marts DAG after each dbt build "
            "(or by hand: <code>PYTHONPATH=. .venvs/app/bin/python -m include.report</code>).</p>"
        )


def check_report() -> str:
    url = f"{settings.get('REPORT_URL')}/"
    with _open_signed_in(url, settings.get("TRINO_USER"), settings.get("TRINO_PASSWORD")) as response:
        return f"HTTP {response.status}, {len(response.read()):,} bytes"


SERVICES: dict[str, Service] = {
    s.name: s
    for s in [
        Service(
            "postgres", ("postgres",), ("POSTGRES_PORT",), check_postgres, 30, prepare_postgres, initialize_postgres
        ),
        Service("s3", ("s3",), ("S3_PORT",), check_s3, 60, prepare_s3, initialize_s3, url_setting="S3_ENDPOINT"),
        Service(
            "dynamodb",
            ("dynamodb",),
            ("DYNAMODB_PORT",),
            check_dynamodb,
            30,
            prepare_dynamodb,
            url_setting="DYNAMODB_ENDPOINT",
        ),
        Service(
            "kafka",
            ("kafka",),
            ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_METRICS_PORT"),
            check_kafka,
            90,
            prepare_kafka,
            initialize_kafka,
            url_setting="KAFKA_BOOTSTRAP",
        ),
        Service(
            "flink",
            ("flink-jobmanager", "flink-taskmanager"),
            ("FLINK_REST_PORT", "FLINK_RPC_PORT", "FLINK_JOBMANAGER_METRICS_PORT", "FLINK_TASKMANAGER_METRICS_PORT"),
            check_flink,
            120,
            prepare_flink,
            url_setting="FLINK_REST_URL",
        ),
        Service("flink-ui", ("flink-ui",), ("FLINK_UI_PORT",), check_flink_ui, 120, url_setting="FLINK_UI_URL"),
        Service(
            "trino",
            ("trino",),
            ("TRINO_PORT", "TRINO_INTERNAL_PORT"),
            check_trino,
            240,
            prepare_trino,
            url_setting="TRINO_URL",
        ),
        Service(
            "airflow",
            ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"),
            ("AIRFLOW_PORT",),
            check_airflow,
            240,
            prepare_airflow,
            url_setting="AIRFLOW_URL",
        ),
        Service(
            "mlflow",
            ("mlflow",),
            ("MLFLOW_PORT",),
            check_mlflow,
            120,
            prepare_mlflow,
            url_setting="MLFLOW_TRACKING_URI",
        ),
        Service("report", ("report",), ("REPORT_PORT",), check_report, 30, prepare_report, url_setting="REPORT_URL"),
        Service(
            "prometheus",
            ("prometheus",),
            ("PROMETHEUS_PORT",),
            check_prometheus,
            60,
            prepare_prometheus,
            url_setting="PROMETHEUS_URL",
        ),
        Service(
            "alertmanager",
            ("alertmanager",),
            ("ALERTMANAGER_PORT",),
            check_alertmanager,
            60,
            prepare_alertmanager,
            url_setting="ALERTMANAGER_URL",
        ),
        Service("node-exporter", ("node-exporter",), ("NODE_EXPORTER_PORT",), check_node_exporter, 30),
        Service("alert-webhook", ("alert-webhook",), ("ALERT_WEBHOOK_PORT",), check_alert_webhook, 30),
        Service("dashboard", ("dashboard",), ("DASHBOARD_PORT",), check_dashboard, 60, url_setting="DASHBOARD_URL"),
    ]
}

# Start order: each stage starts together and must be healthy before the next one starts. The second
# stage needs only the first (Airflow and the Iceberg catalog live in PostgreSQL, the warehouse in S3);
# started together they overlap their waits: `make up` on a warm machine 43 s -> 40 s. The monitoring
# needs nothing to start (Prometheus scrapes whatever is up; the webhook reaches Kafka per alert).
STAGES: list[list[str]] = [
    ["postgres", "s3", "dynamodb", "prometheus", "alertmanager", "node-exporter", "alert-webhook"],
    ["kafka", "flink", "flink-ui", "trino", "airflow", "mlflow", "report", "dashboard"],
]
