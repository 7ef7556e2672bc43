"""`make dbt ARGS="build"`: the dbt CLI on the project, logged in to Trino with the stack's credentials.

dbt_project/profiles.yml reads Trino's endpoint, user, password and certificate from the environment;
this sets them from the settings (include/platform.env and the generated credentials) and runs dbt from
the "dbt" environment. Without it, export TRINO_PASSWORD and TRINO_CA_FILE yourself (`make credentials`).
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from include import settings
from stack.services import environment_without_ca_overrides


def environment() -> dict[str, str]:
    s = settings.all_settings()
    trino = urlsplit(s["TRINO_URL"])
    return {
        **environment_without_ca_overrides(),
        "TRINO_HOST": trino.hostname or "",
        "TRINO_PORT": str(trino.port),
        "TRINO_USER": s["TRINO_USER"],
        "TRINO_PASSWORD": s["TRINO_PASSWORD"],
        "TRINO_CA_FILE": s["TRINO_CA_FILE"],
        "ICEBERG_CATALOG_NAME": s["ICEBERG_CATALOG_NAME"],
        "ICEBERG_NAMESPACE": s["ICEBERG_NAMESPACE"],
        "DBT_SCHEMA": s["ICEBERG_NAMESPACE"],
    }


def main(args: list[str]) -> None:
    project = settings.REPO_ROOT / "dbt_project"
    dbt = f"{settings.get('VENV_DIR')}/dbt/bin/dbt"
    command = [dbt, *(args or ["build"]), "--project-dir", str(project), "--profiles-dir", str(project)]
    os.execve(dbt, command, environment())


if __name__ == "__main__":
    main(sys.argv[1:])
