"""The local stack's secrets: generated at the first `make up`, kept under $STACK_HOME/secrets, never in
the repository.

No service of the stack starts with a password anyone could know: each secret below is drawn from
`secrets` once, written to `credentials.env` (mode 0600, sourced by include/settings.py before
include/platform.env, so the environment still wins) and printed once; `make credentials` shows them
again. Derived from them, in the same directory:

- `pgpass`: the application role's password for PostgreSQL clients that take no password in their
  configuration (the Flink jobs' JDBC catalog, so the password never appears in the SQL they submit);
- `trino-keystore.pem` (TLS key and certificate) and `trino-ca.pem` (the certificate clients trust):
  Trino checks passwords only over HTTPS;
- `trino-password.db`: Trino's password file (PBKDF2 hashes);
- `mlflow-auth.ini` (and `mlflow-auth.compose.ini`, the same inside the compose network): the
  configuration of MLflow's login (its user store in PostgreSQL, reached through `pgpass`; the admin's
  password comes from the environment);
- `monitoring-web.yml`: the logins Prometheus, Alertmanager and the node exporter accept (their
  `--web.config.file`: bcrypt hashes of MONITORING_USER's and METRICS_SCRAPE_USER's passwords), and
  `metrics-scrape-password`, the password Prometheus and Alertmanager sign in with (`password_file`);
- `flink-rest-client.pem` (key and certificate) and `flink-rest-ca.pem` (the certificate): the key pair of
  Flink's REST API,
  which takes only callers presenting it (mutual TLS: the flink CLI, the REST client, the UI's login
  proxy); `flink-keystore.p12` and `flink-truststore.p12` hold the same for Flink's JVMs, which also
  use them for their internal connections;

and COMPOSE_ENV_FILE (`.env` at the repository root), from which docker compose reads the same secrets.

`make clean` deletes them with the data they protect; the next `make up` draws new ones.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import subprocess
from pathlib import Path

from include import settings

# What each generated secret is for; the names are the settings' (include/platform.env, stack/stack.env).
SECRETS: dict[str, str] = {
    "POSTGRES_SUPERUSER_PASSWORD": "PostgreSQL's superuser `postgres` (the stack tool only)",
    "POSTGRES_PASSWORD": "PostgreSQL role POSTGRES_USER: Airflow's metadata and the Iceberg catalog",
    "AWS_ACCESS_KEY_ID": "S3 (S3Proxy) and DynamoDB (dynalite) access key",
    "AWS_SECRET_ACCESS_KEY": "S3 (S3Proxy) and DynamoDB (dynalite) secret key",
    "AIRFLOW_ADMIN_PASSWORD": "Airflow UI and REST API, user AIRFLOW_ADMIN_USER",
    "AIRFLOW__API_AUTH__JWT_SECRET": "signs the tokens of Airflow's API and its task workers",
    "AIRFLOW__API__SECRET_KEY": "Airflow API server sessions",
    "TRINO_PASSWORD": "Trino, user TRINO_USER (dbt, Airflow, the report, analysts)",
    "TRINO_SHARED_SECRET": "Trino's internal communication",
    "KAFKA_PASSWORD": "Kafka, user KAFKA_USERNAME (every client of the platform)",
    "KAFKA_BROKER_PASSWORD": "Kafka's broker, logging in to itself and to its controller",
    "FLINK_UI_PASSWORD": "the Flink UI's login proxy, user FLINK_UI_USER",
    "FLINK_TLS_STORE_PASSWORD": "Flink's key and trust stores (PKCS12)",
    "MLFLOW_TRACKING_PASSWORD": "MLflow UI and API, user MLFLOW_TRACKING_USERNAME (its admin)",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": "MLflow server sessions (its login's CSRF tokens)",
    "MONITORING_PASSWORD": "Prometheus, Alertmanager and the operations dashboard, user MONITORING_USER",
    "METRICS_SCRAPE_PASSWORD": "what Prometheus scrapes and Alertmanager calls, user METRICS_SCRAPE_USER",
}
PBKDF2_ITERATIONS = 100_000
CERTIFICATE_DAYS = 3650
# Names the certificates are valid for besides BIND_HOST: loopback, and the compose service names.
TRINO_HOSTNAMES = ("localhost", "trino")
FLINK_HOSTNAMES = ("localhost", "flink-jobmanager")


class CredentialsError(RuntimeError):
    pass


def credentials_file() -> Path:
    return settings.credentials_file()


def secrets_dir() -> Path:
    return credentials_file().parent


def _draw(name: str) -> str:
    if name == "AWS_ACCESS_KEY_ID":
        return "AK" + secrets.token_hex(9).upper()  # the shape of an AWS access key id
    return secrets.token_urlsafe(24)  # no character a shell, a URL or a properties file treats specially


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def _env_line(name: str, value: str) -> str:
    # `:-`: a value set in the environment wins, an empty one does not (the stack tool's own environment
    # holds the settings files' empty placeholders).
    return f"{name}=${{{name}:-{value}}}"


def ensure() -> dict[str, str] | None:
    """Generates the secrets and the files derived from them if there are none yet; returns the new
    secrets (to print once), or None when they existed. Refuses a stack whose data was created with the
    old fixed passwords: that data is protected by a password every clone knows."""
    path = credentials_file()
    if path.exists():
        added = _add_missing_secrets(path)
        settings.all_settings.cache_clear()
        _write_derived_files()
        return added or None
    if (Path(settings.get("DATA_DIR")) / "postgres" / "PG_VERSION").exists():
        raise CredentialsError(
            f"{settings.get('DATA_DIR')} holds data created with the former fixed passwords and there are no "
            f"generated credentials ({path}); run `make clean` (deletes the stack's data) and `make up` again"
        )
    generated = {name: _draw(name) for name in SECRETS}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    header = "# Generated by `make up` (stack/credentials.py); `make clean` deletes it. Never commit it.\n"
    _write_private(path, header + "".join(f"{_env_line(n, v)}\n" for n, v in generated.items()))
    settings.all_settings.cache_clear()
    _write_derived_files()
    return generated


def _add_missing_secrets(path: Path) -> dict[str, str]:
    """Draws the secrets a newer version of SECRETS names and the file lacks (the others stay as they are)."""
    text = path.read_text()
    present = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")}
    added = {name: _draw(name) for name in SECRETS if name not in present}
    if added:
        _write_private(path, text.rstrip("\n") + "\n" + "".join(f"{_env_line(n, v)}\n" for n, v in added.items()))
    return added


def _write_derived_files() -> None:
    s = settings.all_settings()
    directory = secrets_dir()
    _write_private(directory / "pgpass", f"*:*:*:{s['POSTGRES_USER']}:{s['POSTGRES_PASSWORD']}\n")
    _write_private(directory / "trino-password.db", f"{s['TRINO_USER']}:{pbkdf2_entry(s['TRINO_PASSWORD'])}\n")
    _write_private(directory / "mlflow-auth.ini", mlflow_auth_config(s, s["BIND_HOST"]))
    _write_private(directory / "mlflow-auth.compose.ini", mlflow_auth_config(s, "postgres"))
    _write_private(directory / "metrics-scrape-password", s["METRICS_SCRAPE_PASSWORD"])
    monitoring_logins = directory / "monitoring-web.yml"
    if not _holds_logins(monitoring_logins, s):
        _write_private(monitoring_logins, monitoring_web_config(s))
    if not Path(s["TRINO_KEYSTORE"]).exists():
        key, certificate = self_signed_certificate(s["BIND_HOST"], TRINO_HOSTNAMES, "Trino")
        _write_private(Path(s["TRINO_KEYSTORE"]), key + certificate)
        Path(s["TRINO_CA_FILE"]).write_text(certificate)
    if not Path(s["FLINK_TLS_TRUSTSTORE"]).exists():
        _write_flink_tls_files(s)
    compose_env = "".join(f"{name}={s[name]}\n" for name in SECRETS) + f"TRINO_USER={s['TRINO_USER']}\n"
    _write_private(
        Path(s["COMPOSE_ENV_FILE"]), "# Written by `make up` for docker compose; never commit it.\n" + compose_env
    )


def mlflow_auth_config(s: dict[str, str], postgres_host: str) -> str:
    """MLflow's basic-auth app configuration. Signed-in users may read every experiment and model (the
    admin grants more); nobody signed out gets anything. The admin is created at the server's first start
    from MLFLOW_AUTH_ADMIN_PASSWORD (stack/supervisord.conf), so no password is written here."""
    database = f"postgresql+psycopg2://{s['POSTGRES_USER']}@{postgres_host}:{s['POSTGRES_PORT']}/{s['MLFLOW_AUTH_DB']}"
    return (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {database}\n"
        f"admin_username = {s['MLFLOW_TRACKING_USERNAME']}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def _monitoring_logins(s: dict[str, str]) -> dict[str, str]:
    return {s["MONITORING_USER"]: s["MONITORING_PASSWORD"], s["METRICS_SCRAPE_USER"]: s["METRICS_SCRAPE_PASSWORD"]}


def monitoring_web_config(s: dict[str, str]) -> str:
    """The web configuration (Prometheus' exporter toolkit) of Prometheus, Alertmanager and the node
    exporter: HTTP Basic logins, passwords as bcrypt hashes."""
    import bcrypt

    users = "".join(
        f"  {user}: {bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n"
        for user, password in _monitoring_logins(s).items()
    )
    return "# Written by `make up` (stack/credentials.py).\nbasic_auth_users:\n" + users


def jmx_exporter_login(user: str, password: str) -> str:
    """The login block of a JMX exporter agent's configuration (httpServer.authentication): `user` with a
    salted SHA-256 of `password`, the strongest hash the exporter 1.0 takes besides PBKDF2.

    The exporter 1.0.1 drops the leading zeros of the digest it computes, so it refuses the right password
    when the digest starts with 0 (measured: 401 for such a salt, 200 for another): the salt is drawn
    again until it does not."""
    while True:
        salt = secrets.token_hex(16)
        digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
        if not digest.startswith("0"):
            break
    return (
        "httpServer:\n  authentication:\n    basic:\n"
        f"      username: {user}\n      passwordHash: {digest}\n      algorithm: SHA-256\n      salt: {salt}\n"
    )


def _holds_logins(path: Path, s: dict[str, str]) -> bool:
    """Whether `path` is a web configuration accepting exactly today's monitoring logins (bcrypt salts
    differ per write, so an unchanged file is checked, not compared)."""
    import bcrypt
    import yaml

    if not path.exists():
        return False
    users = (yaml.safe_load(path.read_text()) or {}).get("basic_auth_users") or {}
    logins = _monitoring_logins(s)
    return users.keys() == logins.keys() and all(
        bcrypt.checkpw(logins[user].encode(), hashed.encode()) for user, hashed in users.items()
    )


def pbkdf2_entry(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A password as Trino's file authenticator stores it: iterations:salt:hash, hex. Trino 476 derives
    it with PBKDF2WithHmacSHA1 and a key as long as the stored hash (its EncryptionUtil; the documentation
    says SHA256, which Trino does not accept)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations, dklen=32)
    return f"{iterations}:{salt.hex()}:{digest.hex()}"


def _write_flink_tls_files(s: dict[str, str]) -> None:
    """Flink's REST key pair in PEM (for Python clients) and as the PKCS12 stores Flink's JVMs read. The
    trust store is written by keytool: Java trusts a certificate in a PKCS12 file only if the entry carries
    Java's own trusted-certificate attribute, which keytool sets."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, load_pem_private_key, pkcs12
    from cryptography.x509 import load_pem_x509_certificate

    key, certificate = self_signed_certificate(s["BIND_HOST"], FLINK_HOSTNAMES, "Flink")
    _write_private(Path(s["FLINK_REST_CLIENT_CERT"]), key + certificate)
    Path(s["FLINK_REST_CA_FILE"]).write_text(certificate)
    password = s["FLINK_TLS_STORE_PASSWORD"].encode()
    keystore = pkcs12.serialize_key_and_certificates(
        b"flink",
        load_pem_private_key(key.encode(), None),
        load_pem_x509_certificate(certificate.encode()),
        None,
        BestAvailableEncryption(password),
    )
    Path(s["FLINK_TLS_KEYSTORE"]).touch(mode=0o600)
    Path(s["FLINK_TLS_KEYSTORE"]).write_bytes(keystore)
    truststore = Path(s["FLINK_TLS_TRUSTSTORE"])
    truststore.unlink(missing_ok=True)
    subprocess.run(
        [
            str(Path(s["JAVA17_HOME"]) / "bin" / "keytool"),
            "-importcert",
            "-noprompt",
            "-alias",
            "flink",
            "-file",
            s["FLINK_REST_CA_FILE"],
            "-keystore",
            str(truststore),
            "-storetype",
            "PKCS12",
            "-storepass:env",
            "FLINK_TLS_STORE_PASSWORD",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "FLINK_TLS_STORE_PASSWORD": s["FLINK_TLS_STORE_PASSWORD"]},
        timeout=60,
    )


def self_signed_certificate(host_ip: str, hostnames: tuple[str, ...], service: str) -> tuple[str, str]:
    """(key, certificate) in PEM, valid for `host_ip` and `hostnames`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"fraud-platform local {service}")])
    now = datetime.datetime.now(datetime.UTC)
    alternative_names = [x509.IPAddress(ipaddress.ip_address(host_ip)), *map(x509.DNSName, hostnames)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, certificate_pem


def describe() -> str:
    """The logins a person uses, for `make up` (once) and `make credentials`."""
    s = settings.all_settings()
    return (
        f"  Airflow      {s['AIRFLOW_URL']}  user {s['AIRFLOW_ADMIN_USER']}  password {s['AIRFLOW_ADMIN_PASSWORD']}\n"
        f"  Flink UI     {s['FLINK_UI_URL']}  user {s['FLINK_UI_USER']}  password {s['FLINK_UI_PASSWORD']}\n"
        f"  MLflow       {s['MLFLOW_TRACKING_URI']}  user {s['MLFLOW_TRACKING_USERNAME']}"
        f"  password {s['MLFLOW_TRACKING_PASSWORD']}\n"
        f"  Prometheus   {s['PROMETHEUS_URL']}  user {s['MONITORING_USER']}  password {s['MONITORING_PASSWORD']}\n"
        f"  Alertmanager {s['ALERTMANAGER_URL']}  (the same login)\n"
        f"  Operations   {s['DASHBOARD_URL']}  (the same login)\n"
        f"  Trino        {s['TRINO_URL']}  user {s['TRINO_USER']}  password {s['TRINO_PASSWORD']}"
        f"  (certificate {s['TRINO_CA_FILE']})\n"
        f"  PostgreSQL   {s['BIND_HOST']}:{s['POSTGRES_PORT']}  user {s['POSTGRES_USER']}"
        f"  password {s['POSTGRES_PASSWORD']}\n"
        f"  S3           {s['S3_ENDPOINT']}  access key {s['AWS_ACCESS_KEY_ID']}"
        f"  secret key {s['AWS_SECRET_ACCESS_KEY']}\n"
        f"  Kafka        {s['KAFKA_BOOTSTRAP']}  {s['KAFKA_SASL_MECHANISM']} user {s['KAFKA_USERNAME']}"
        f"  password {s['KAFKA_PASSWORD']}\n"
        f"  (all of them: {credentials_file()}, mode {oct(credentials_file().stat().st_mode & 0o777)})"
    )
