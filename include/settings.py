"""The platform's settings: the variables of include/platform.env (the application's) and stack/stack.env
(how the local stack is installed and run), environment first; before them, on a machine that runs the
local stack, the secrets `make up` generated ($STACK_HOME/secrets/credentials.env, stack/credentials.py).

Both files are sourced by bash, in that order, exactly as the stack tool and supervisord see them, so there
is one set of rules for defaults and overrides: a variable set in the environment (on AWS: MSK, DynamoDB
and S3 endpoints) wins over the file's loopback default. Not to be confused with the scoring
configuration (include/scoring/config.py), which is versioned with the job it is deployed with.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Sourced in this order, after the credentials file: the stack's file may use the application's values.
SETTINGS_FILES = (REPO_ROOT / "include" / "platform.env", REPO_ROOT / "stack" / "stack.env")


def credentials_file() -> Path:
    """Where `make up` keeps the local stack's generated secrets (absent elsewhere, e.g. on AWS, where they
    come from the environment)."""
    stack_home = os.environ.get("STACK_HOME") or str(REPO_ROOT / ".stack")
    return Path(stack_home) / "secrets" / "credentials.env"


def _files() -> list[Path]:
    return [path for path in (credentials_file(), *SETTINGS_FILES) if path.exists()]


_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
# Sources the files given before `--`, then prints NAME\0VALUE\0 for every name after it.
_DUMP = (
    'set -a; while [ "$1" != -- ]; do source "$1"; shift; done; shift; '
    'for n in "$@"; do printf "%s\\0%s\\0" "$n" "${!n}"; done'
)


@functools.cache
def all_settings() -> dict[str, str]:
    """Every variable the settings files define, resolved against the current environment."""
    files = _files()
    names = list(dict.fromkeys(name for path in files for name in _ASSIGNMENT.findall(path.read_text())))
    env = {**os.environ, "REPO_ROOT": os.environ.get("REPO_ROOT", str(REPO_ROOT))}
    out = subprocess.run(
        ["bash", "-c", _DUMP, "bash", *map(str, files), "--", *names],
        env=env,
        capture_output=True,
        check=True,
    ).stdout.decode()
    fields = out.split("\0")[:-1]
    return {"REPO_ROOT": env["REPO_ROOT"], **dict(zip(fields[::2], fields[1::2], strict=True))}


def get(name: str) -> str:
    """One setting; a KeyError names a variable no settings file defines."""
    return all_settings()[name]


def get_int(name: str) -> int:
    return int(get(name))
