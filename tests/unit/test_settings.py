"""include/settings.py: the settings files are resolved like bash resolves them, and the environment wins."""

from __future__ import annotations

import subprocess
import sys

from include import settings


def _settings_in_subprocess(env: dict[str, str]) -> dict[str, str]:
    code = "import json; from include import settings; print(json.dumps(settings.all_settings()))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=settings.REPO_ROOT
    ).stdout
    import json

    return json.loads(out)


def test_defaults_are_derived_from_other_settings():
    s = settings.all_settings()
    assert s["KAFKA_BOOTSTRAP"] == f"{s['BIND_HOST']}:{s['KAFKA_PORT']}"
    assert s["DATA_DIR"].startswith(s["STACK_HOME"])


def test_environment_overrides_the_file_and_flows_into_derived_values():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(settings.REPO_ROOT), "KAFKA_PORT": "19092"}
    s = _settings_in_subprocess(env)
    assert s["KAFKA_PORT"] == "19092"
    assert s["KAFKA_BOOTSTRAP"].endswith(":19092")


def test_aws_endpoints_and_keys_exported_empty_stay_empty(tmp_path):
    """On AWS (no local stack, so no generated credentials file): boto3 then uses AWS's own endpoints and
    its default credential chain."""
    names = ("S3_ENDPOINT", "DYNAMODB_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONPATH": str(settings.REPO_ROOT),
        "STACK_HOME": str(tmp_path),
        **dict.fromkeys(names, ""),
    }
    s = _settings_in_subprocess(env)
    assert [s[name] for name in names] == ["", "", "", ""]


def test_no_settings_file_in_the_repository_holds_a_secret():
    """Secrets have no value in the versioned files: `make up` generates them (stack/credentials.py)."""
    from stack.credentials import SECRETS

    for path in settings.SETTINGS_FILES:
        for line in path.read_text().splitlines():
            name = line.split("=", 1)[0]
            if name in SECRETS:
                assert line == f"{name}=${{{name}:-}}" or line == f"{name}=${{{name}-}}", line
