"""Shared fixtures. Tests under tests/integration/ are marked `integration`: they need `make up`."""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).parent / "integration"
# requests lets these replace the CA a Trino client was given: the tests, and the dbt and Airflow commands
# they run, trust the stack's own certificate instead (as the services do, stack/__main__.py).
for _name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_name, None)
# tests/udf/ drive the UDF through PyFlink, which only the "udf-test" environment has (Makefile test-udf);
# the other environments leave them out.
collect_ignore = [] if importlib.util.find_spec("pyflink") else ["udf"]


def _restarts_flink(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("disruptive")
    return marker is not None and marker.kwargs.get("restarts") == "flink"


def pytest_collection_modifyitems(items):
    # Tests that restart the Flink cluster run last: the next job on a restarted cluster starts cold
    # (classes loaded and compiled again), which would slow whatever test ran next.
    items.sort(key=_restarts_flink)
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
        if "restart_service" in item.fixturenames and not item.get_closest_marker("disruptive"):
            raise pytest.UsageError(
                f"{item.nodeid} restarts a service: mark it @pytest.mark.disruptive, "
                "or it may run beside tests that need that service (make test)"
            )


@pytest.fixture
def unique_name(request) -> str:
    """A name no other test run uses: test_<test function>_<8 hex digits>, lowercase, no dashes."""
    return f"t_{request.node.name.split('[')[0].removeprefix('test_')[:30]}_{uuid.uuid4().hex[:8]}".lower()


@pytest.fixture
def restart_service():
    """Restarts a stack service (stop, stay down `down_s`, start, wait until healthy) as `make up` would."""
    from stack import supervisor
    from stack.services import SERVICES

    def restart(name: str, timeout_s: float = 60, down_s: float = 0) -> None:
        service = SERVICES[name]
        for program in service.programs:
            supervisor.stop(program)
        time.sleep(down_s)
        for program in service.programs:
            supervisor.start(program)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                service.check()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    return restart
