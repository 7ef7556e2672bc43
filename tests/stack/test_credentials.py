"""stack/credentials.py: secrets drawn at the first `make up`, private, in forms the services accept."""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
import sys

from include import settings
from stack import credentials


def test_trino_password_entry_is_pbkdf2_as_trino_checks_it():
    entry = credentials.pbkdf2_entry("s3cret", salt=bytes(16), iterations=1000)
    iterations, salt, digest = entry.split(":")
    assert int(iterations) >= 1000  # Trino's minimum
    expected = hashlib.pbkdf2_hmac("sha1", b"s3cret", bytes.fromhex(salt), int(iterations), dklen=len(digest) // 2)
    assert expected.hex() == digest


def test_certificate_is_valid_for_loopback(tmp_path):
    key, certificate = credentials.self_signed_certificate("127.0.0.1", ("localhost",), "Test")
    assert "PRIVATE KEY" in key and "PRIVATE KEY" not in certificate
    (tmp_path / "ca.pem").write_text(certificate)
    ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))  # parses as a trust anchor


def test_first_run_generates_private_unique_secrets_and_a_second_keeps_them(tmp_path):
    """In a process of its own with STACK_HOME in a temporary directory (settings are read once)."""
    code = (
        "import json; from stack import credentials; from include import settings; "
        "first = credentials.ensure(); again = credentials.ensure(); "
        "print(json.dumps({'first': first, 'again': again, 'settings': settings.all_settings()}))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "STACK_HOME": str(tmp_path / "stack"),
        "COMPOSE_ENV_FILE": str(tmp_path / ".env"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)
    first, s = result["first"], result["settings"]
    assert result["again"] is None  # generated once
    assert set(first) == set(credentials.SECRETS)
    assert len(set(first.values())) == len(first)  # each drawn on its own
    assert all(len(value) >= 20 for value in first.values())
    assert all(s[name] == value for name, value in first.items())  # what every component reads
    secrets_dir = tmp_path / "stack" / "secrets"
    assert secrets_dir.stat().st_mode & 0o777 == 0o700
    for path in [
        *(
            secrets_dir / name
            for name in (
                "credentials.env",
                "pgpass",
                "trino-keystore.pem",
                "flink-rest-client.pem",
                "flink-keystore.p12",
                "mlflow-auth.ini",
            )
        ),
        tmp_path / ".env",
    ]:
        assert path.stat().st_mode & 0o777 == 0o600, path
    # MLflow's login configuration names no password: the admin's comes from the environment, the database's
    # from pgpass
    mlflow_auth = (secrets_dir / "mlflow-auth.ini").read_text()
    assert "admin_password" not in mlflow_auth and s["POSTGRES_PASSWORD"] not in mlflow_auth
    assert (
        f"@{s['BIND_HOST']}:" in mlflow_auth and "@postgres:" in (secrets_dir / "mlflow-auth.compose.ini").read_text()
    )


def test_a_secret_added_by_a_newer_version_is_drawn_and_the_others_kept(tmp_path):
    path = tmp_path / "credentials.env"
    path.write_text("# header\nPOSTGRES_PASSWORD=${POSTGRES_PASSWORD:-kept}\n")
    added = credentials._add_missing_secrets(path)
    assert set(added) == set(credentials.SECRETS) - {"POSTGRES_PASSWORD"}
    text = path.read_text()
    assert "POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-kept}" in text
    assert all(f"{name}=${{{name}:-{value}}}" in text for name, value in added.items())
    assert path.stat().st_mode & 0o777 == 0o600
    assert credentials._add_missing_secrets(path) == {}


def test_the_jmx_exporter_login_holds_a_salted_hash_it_accepts():
    """A salted SHA-256 of the password, never the password; never a digest with a leading zero, which the
    exporter 1.0.1 refuses (see jmx_exporter_login)."""
    import hashlib

    import yaml

    for _ in range(64):  # a leading zero comes with one salt in 16
        login = credentials.jmx_exporter_login("prometheus", "s3cret-pass")
        basic = yaml.safe_load(login)["httpServer"]["authentication"]["basic"]
        assert "s3cret-pass" not in login and basic["username"] == "prometheus"
        assert basic["passwordHash"] == hashlib.sha256(f"{basic['salt']}:s3cret-pass".encode()).hexdigest()
        assert not basic["passwordHash"].startswith("0")
