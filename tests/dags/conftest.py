"""DAG tests parse dags/ without any running service: Airflow gets a throwaway home and no examples."""

import os
import tempfile

from include import settings

# The platform's settings are resolved against the environment once and cached: resolve them before the
# throwaway home below enters it, or the live DAG tests in this process would run Airflow in that home.
settings.all_settings()
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"

# The marts DAG reads the dbt graph from the manifest `make up` writes; parse the project if the manifest
# is missing or older than a change to the project (a parse takes ~4 s, in every pytest process).
from stack.services import dbt_manifest_is_current, parse_dbt_project  # noqa: E402

if not dbt_manifest_is_current():
    parse_dbt_project()
