"""Every service of the local stack listens on loopback only (the README and the settings promise it),
with one exception that no setting can remove, checked to stay that narrow; every UI and API asks who
the caller is and refuses the former fixed passwords; Flink's REST API takes no jars."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import psutil
import pytest
import requests

from include import settings
from include.flink_rest import FlinkRest
from stack import supervisor

# PyFlink runs Python UDFs through Beam's fn API: for each Python worker the TaskManager opens gRPC
# servers (control, data, state, logging) with Beam's ServerFactory, which binds every interface on
# an ephemeral port and takes no bind address. Only those may listen beyond loopback.
BEAM_FN_API_HOST = "flink-taskmanager"
EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def _listening(pid: int) -> set[tuple[str, int]]:
    process = psutil.Process(pid)
    addresses = set()
    for member in (process, *process.children(recursive=True)):
        try:
            connections = member.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        addresses |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return addresses


def _is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback  # ::ffff:127.0.0.1 too


def test_every_service_listens_on_loopback_only():
    programs = {name: info for name, info in supervisor.all_programs().items() if info.pid}
    assert len(programs) >= 10, programs
    exposed = {}
    for name, info in programs.items():
        addresses = [addr for addr in _listening(info.pid) if not _is_loopback(addr[0])]
        if name == BEAM_FN_API_HOST:
            addresses = [(ip, port) for ip, port in addresses if port < EPHEMERAL_LOW]
        if addresses:
            exposed[name] = sorted(addresses)
    assert exposed == {}


def test_flink_rest_api_takes_no_jar_uploads():
    """Jobs are submitted by the `flink` CLI; the REST API's jar upload and run endpoints are off (even for
    a caller with the client certificate), while the job overview the health checks read still answers."""
    rest = FlinkRest.platform()
    upload = rest.session.post(
        f"{rest.base_url}/jars/upload", files={"jarfile": ("x.jar", b"PK\x05\x06" + bytes(18))}, timeout=10
    )
    assert 400 <= upload.status_code < 500, upload.text[:300]  # no handler: "POST request not allowed"
    assert rest.session.get(f"{rest.base_url}/jars", timeout=10).status_code == 404
    assert rest.session.get(f"{rest.base_url}/jobs/overview", timeout=10).status_code == 200


# --- Who are you: every UI and API with a login refuses anonymous callers and the former fixed passwords ---

FORMER_DEFAULTS = {
    "postgres": ("fraud", "fraud"),
    "s3": ("fraudlocal", "fraudlocalsecret"),
    "airflow": ("admin", "admin"),
}


def test_credentials_are_generated_private_and_not_the_former_defaults():
    path = settings.credentials_file()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    s = settings.all_settings()
    assert s["POSTGRES_PASSWORD"] not in ("", "fraud")
    assert s["AWS_SECRET_ACCESS_KEY"] not in ("", "fraudlocalsecret")
    assert s["AIRFLOW_ADMIN_PASSWORD"] not in ("", "admin")
    assert s["AIRFLOW__API_AUTH__JWT_SECRET"] not in ("", "local-only-jwt-secret-change-me")


def test_postgres_refuses_the_former_password_and_passwordless_socket_logins():
    import psycopg2

    user, password = FORMER_DEFAULTS["postgres"]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host=settings.get("BIND_HOST"),
            port=settings.get("POSTGRES_PORT"),
            user=user,
            password=password,
            dbname="postgres",
        )
    socket_dir = Path(settings.get("RUN_DIR")) / "postgres"
    for role in ("postgres", settings.get("POSTGRES_USER")):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host=str(socket_dir), port=settings.get("POSTGRES_PORT"), user=role, dbname="postgres")


def test_s3_refuses_anonymous_requests_and_the_former_keys():
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    endpoint, region = settings.get("S3_ENDPOINT"), settings.get("AWS_REGION")
    anonymous = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=Config(signature_version=UNSIGNED))
    key, secret = FORMER_DEFAULTS["s3"]
    former = boto3.client(
        "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
    )
    for client in (anonymous, former):
        with pytest.raises(ClientError) as refused:
            client.list_objects_v2(Bucket=settings.get("ICEBERG_WAREHOUSE_BUCKET"))
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_dynamodb_takes_only_requests_signed_with_the_platform_key():
    """dynalite never checks signatures; stack/dynamodb/signed_dynalite.js does. Only its fixed health
    answer (`GET /`) stays anonymous."""
    import boto3
    from botocore.exceptions import ClientError

    from include import aws

    s = settings.all_settings()
    endpoint, region = s["DYNAMODB_ENDPOINT"], s["AWS_REGION"]
    list_tables = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    unsigned = requests.post(f"{endpoint}/", data="{}", headers=list_tables, timeout=10)
    assert unsigned.status_code == 400
    assert unsigned.json()["__type"].endswith("#MissingAuthenticationTokenException")
    former_key, former_secret = FORMER_DEFAULTS["s3"]
    refusals = {
        (s["AWS_ACCESS_KEY_ID"], "not-the-secret"): "InvalidSignatureException",
        (former_key, former_secret): "UnrecognizedClientException",
    }
    for (key, secret), error in refusals.items():
        client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
        )
        with pytest.raises(ClientError) as refused:
            client.list_tables()
        assert refused.value.response["Error"]["Code"] == error
    assert isinstance(aws.dynamodb_client().list_tables()["TableNames"], list)
    assert requests.get(f"{endpoint}/", timeout=10).status_code == 200


def test_airflow_refuses_anonymous_calls_and_the_former_admin_password():
    url = settings.get("AIRFLOW_URL")
    assert requests.get(f"{url}/api/v2/dags", timeout=10).status_code == 401
    user, password = FORMER_DEFAULTS["airflow"]
    assert (
        requests.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=10).status_code == 401
    )


def _trino_statement(url: str, auth: tuple[str, str] | None, verify: str | bool) -> requests.Response:
    session = requests.Session()
    session.trust_env = False  # the stack's CA, not REQUESTS_CA_BUNDLE
    headers = {"X-Trino-User": settings.get("TRINO_USER")}
    return session.post(f"{url}/v1/statement", data="select 1", headers=headers, auth=auth, verify=verify, timeout=10)


def test_trino_takes_a_password_over_https_only():
    https, ca = settings.get("TRINO_URL"), settings.get("TRINO_CA_FILE")
    user, password = settings.get("TRINO_USER"), settings.get("TRINO_PASSWORD")
    assert https.startswith("https://")
    assert _trino_statement(https, None, ca).status_code == 401
    assert _trino_statement(https, (user, "not-the-password"), ca).status_code == 401
    assert _trino_statement(https, (user, password), ca).status_code == 200
    # The node's plain-HTTP port refuses clients, with or without the password.
    internal = f"http://{settings.get('BIND_HOST')}:{settings.get('TRINO_INTERNAL_PORT')}"
    for auth in (None, (user, password)):
        assert _trino_statement(internal, auth, False).status_code in (401, 403)


def _asks_for_a_basic_login(url: str, login: tuple[str, str]) -> requests.Response:
    """Refused without a login and with admin/admin; returns the answer with `login`."""
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url, auth=("admin", "admin"), timeout=10).status_code == 401
    return requests.get(url, auth=login, timeout=10)


def test_report_page_asks_for_the_login():
    login = (settings.get("TRINO_USER"), settings.get("TRINO_PASSWORD"))
    assert _asks_for_a_basic_login(f"{settings.get('REPORT_URL')}/", login).status_code == 200


def test_flink_rest_api_takes_only_the_platform_client_certificate(tmp_path):
    """Mutual TLS: without a client certificate, or with one Flink does not trust, the handshake fails."""
    from stack import credentials

    url = settings.get("FLINK_REST_URL")
    assert url.startswith("https://")
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{url}/overview", verify=settings.get("FLINK_REST_CA_FILE"), timeout=10)
    key, certificate = credentials.self_signed_certificate(settings.get("BIND_HOST"), ("localhost",), "Stranger")
    (tmp_path / "key.pem").write_text(key)
    (tmp_path / "cert.pem").write_text(certificate)
    with pytest.raises(requests.exceptions.SSLError):
        session.get(
            f"{url}/overview",
            verify=settings.get("FLINK_REST_CA_FILE"),
            cert=(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")),
            timeout=10,
        )
    assert FlinkRest.platform().overview()["taskmanagers"] >= 1


def test_flink_ui_asks_for_the_login():
    url, login = settings.get("FLINK_UI_URL"), (settings.get("FLINK_UI_USER"), settings.get("FLINK_UI_PASSWORD"))
    assert _asks_for_a_basic_login(f"{url}/overview", login).json()["taskmanagers"] >= 1
    assert requests.get(f"{url}/", auth=login, timeout=10).status_code == 200  # the UI's page


def test_mlflow_asks_for_the_login():
    """MLflow's UI and API through its basic-auth app; its former built-in admin password is not the one."""
    url = settings.get("MLFLOW_TRACKING_URI")
    login = (settings.get("MLFLOW_TRACKING_USERNAME"), settings.get("MLFLOW_TRACKING_PASSWORD"))
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert _asks_for_a_basic_login(search, login).status_code == 200
    assert requests.get(search, auth=(login[0], "password1234"), timeout=10).status_code == 401
    assert _asks_for_a_basic_login(f"{url}/", login).status_code == 200  # the UI's page


def test_monitoring_asks_for_the_login():
    """Prometheus, Alertmanager and the operations dashboard (people sign in as MONITORING_USER), and what Prometheus scrapes or
    Alertmanager calls (METRICS_SCRAPE_USER): Flink's reporter in the JobManager and the TaskManager, the
    node exporter, the Kafka broker's JMX exporter, the alert webhook. Each refuses the other login too."""
    s = settings.all_settings()
    people = (s["MONITORING_USER"], s["MONITORING_PASSWORD"])
    scraper = (s["METRICS_SCRAPE_USER"], s["METRICS_SCRAPE_PASSWORD"])
    for url in (
        f"{s['PROMETHEUS_URL']}/api/v1/status/buildinfo",
        f"{s['ALERTMANAGER_URL']}/api/v2/status",
        f"{s['DASHBOARD_URL']}/",
    ):
        assert _asks_for_a_basic_login(url, people).status_code == 200, url
        assert requests.get(url, auth=(people[0], scraper[1]), timeout=10).status_code == 401, url
    host = s["BIND_HOST"]
    for port in (
        "FLINK_JOBMANAGER_METRICS_PORT",
        "FLINK_TASKMANAGER_METRICS_PORT",
        "NODE_EXPORTER_PORT",
        "KAFKA_METRICS_PORT",
    ):
        url = f"http://{host}:{s[port]}/metrics"
        answer = _asks_for_a_basic_login(url, scraper)
        assert answer.status_code == 200 and answer.text.startswith("#"), url
        assert requests.get(url, auth=(scraper[0], people[1]), timeout=10).status_code == 401, url
    webhook = f"{s['ALERT_WEBHOOK_URL']}/alerts"
    assert requests.post(webhook, json={"alerts": []}, timeout=10).status_code == 401
    assert requests.post(webhook, json={"alerts": []}, auth=people, timeout=10).status_code == 401


def _kafka_metadata(config: dict) -> int:
    """Topics a client with `config` sees; raises KafkaException when the broker does not let it in."""
    from confluent_kafka.admin import AdminClient

    return len(AdminClient(config).list_topics(timeout=10).topics)


def test_kafka_takes_only_the_platform_login():
    from confluent_kafka import KafkaException

    from include import kafka_config

    bootstrap = settings.get("KAFKA_BOOTSTRAP")
    with pytest.raises(KafkaException):
        _kafka_metadata({"bootstrap.servers": bootstrap})  # PLAINTEXT: no login at all
    wrong = kafka_config.client_config({"sasl.password": "not-the-password"})
    with pytest.raises(KafkaException):
        _kafka_metadata(wrong)
    assert _kafka_metadata(kafka_config.client_config()) >= 4
    # The controller's port takes only the broker's own PLAIN login.
    controller = {
        "bootstrap.servers": f"{settings.get('BIND_HOST')}:{settings.get('KAFKA_CONTROLLER_PORT')}",
        "socket.timeout.ms": 5000,
    }
    with pytest.raises(KafkaException):
        _kafka_metadata(controller)


def test_no_secret_is_in_the_sql_a_job_submits():
    from include.scoring_job import SQL_FILES

    s = settings.all_settings()
    secret_names = ("POSTGRES_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "KAFKA_PASSWORD")
    secrets = [s[name] for name in secret_names]
    for path in SQL_FILES:
        text = path.read_text()
        assert not any(secret in text for secret in secrets), path
        assert not any(f"${{{name}}}" in text for name in secret_names), path
