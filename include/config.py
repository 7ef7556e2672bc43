"""Platform settings: the variables of include/config/platform.env, environment first.

The file is sourced by bash, exactly as the stack tool and supervisord see it, so there is one set of
rules for defaults and overrides: a variable set in the environment (on AWS: MSK, DynamoDB and S3
endpoints) wins over the file's loopback default.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLATFORM_ENV = REPO_ROOT / "include" / "config" / "platform.env"

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
# Prints NAME\0VALUE\0 for every name given after the file, once the file is sourced.
_DUMP = 'set -a; source "$1"; shift; for n in "$@"; do printf "%s\\0%s\\0" "$n" "${!n}"; done'


@functools.cache
def settings() -> dict[str, str]:
    """Every variable platform.env defines, resolved against the current environment."""
    names = _ASSIGNMENT.findall(PLATFORM_ENV.read_text())
    env = {**os.environ, "REPO_ROOT": os.environ.get("REPO_ROOT", str(REPO_ROOT))}
    out = subprocess.run(
        ["bash", "-c", _DUMP, "bash", str(PLATFORM_ENV), *names],
        env=env,
        capture_output=True,
        check=True,
    ).stdout.decode()
    fields = out.split("\0")[:-1]
    return {"REPO_ROOT": env["REPO_ROOT"], **dict(zip(fields[::2], fields[1::2]))}


def get(name: str) -> str:
    """One setting; a KeyError names a variable platform.env does not define."""
    return settings()[name]


def get_int(name: str) -> int:
    return int(get(name))
