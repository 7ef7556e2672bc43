"""DAG runs through Airflow's REST API, signed in as the platform's admin, as a user triggers them in the
UI: the scheduler runs them (pools, max active runs and pauses apply), unlike `airflow dags test`, which
runs one in the caller's process. Used by the demo and the integration tests."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from datetime import datetime

import requests

from include import settings

FINISHED = {"success", "failed"}
ANSWER_AFTER_S = 10  # an approval is answered once its question has been open this long (see respond)


@functools.cache
def _session() -> requests.Session:
    url = settings.get("AIRFLOW_URL")
    login = {"username": settings.get("AIRFLOW_ADMIN_USER"), "password": settings.get("AIRFLOW_ADMIN_PASSWORD")}
    response = requests.post(f"{url}/auth/token", json=login, timeout=30)
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def api(method: str, path: str, **kwargs) -> dict:
    response = _session().request(method, f"{settings.get('AIRFLOW_URL')}/api/v2{path}", timeout=30, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else {}


def trigger(dag_id: str, conf: dict | None = None) -> str:
    """Queues a run of `dag_id` now; returns its run id."""
    return api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})["dag_run_id"]


def wait(dag_id: str, run_id: str, timeout_s: float = 900) -> str:
    """Waits until the run has finished; returns its state (success or failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in FINISHED:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id} run {run_id} still {state} after {timeout_s:.0f} s")
        time.sleep(3)


def run(dag_id: str, conf: dict | None = None, timeout_s: float = 900) -> str:
    """Triggers a run and waits for it; fails unless it succeeded, with its failed tasks' logs."""
    run_id = trigger(dag_id, conf)
    wait_for_success(dag_id, run_id, timeout_s)
    return run_id


def wait_for_success(dag_id: str, run_id: str, timeout_s: float = 900) -> None:
    """Waits until the run has finished; raises unless it succeeded, quoting its failed tasks' logs."""
    state = wait(dag_id, run_id, timeout_s)
    if state != "success":
        failed = [t for t, s in task_states(dag_id, run_id).items() if s == "failed"]
        raise RuntimeError(
            f"{dag_id} {run_id} {state}; failed tasks {failed}:\n"
            + "\n".join(log(dag_id, run_id, t)[-3000:] for t in failed)
        )


def respond(dag_id: str, run_id: str, task_id: str, option: str, timeout_s: float = 300) -> dict:
    """Answers a human-in-the-loop task (an approval) as a person would in the UI, and waits until the task
    has taken the answer; returns the answer recorded.

    Airflow 3.3 loses an answer that arrives before the scheduler has processed the executor's report of
    the parked try (seconds under load): it sees the try rescheduled by the answer yet reported finished,
    fails it, and the retry asks again. So the answer waits until the question has been open for
    ANSWER_AFTER_S, as a person's would; a retry's question is still answered the same way."""
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
    deadline, answer, asked = time.monotonic() + timeout_s, None, {}
    while True:
        instance = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        state = instance["state"]
        if answer and state in ("success", "skipped", "failed", "upstream_failed"):
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{task_id} of {run_id} did not take the answer {option!r}: it is {state}")
        if state == "awaiting_input":
            asked.setdefault(instance["try_number"], time.monotonic())
            open_for = time.monotonic() - asked[instance["try_number"]]
            if open_for >= ANSWER_AFTER_S and not api("GET", path)["response_received"]:
                answer = api("PATCH", path, json={"chosen_options": [option]})
        time.sleep(2)


def task_states(dag_id: str, run_id: str) -> dict[str, str | None]:
    instances = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
    return {t["task_id"]: t["state"] for t in instances["task_instances"]}


def result(dag_id: str, run_id: str, task_id: str):
    """The task's return value (its `return_value` XCom)."""
    entry = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    return entry["value"]


def log(dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> str:
    """The text of the task's log (its last try by default)."""
    if try_number is None:
        instance = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        try_number = max(instance["try_number"], 1)
    content = api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}")["content"]
    if isinstance(content, list):  # structured log lines: the message, and the exception's, if any
        return "\n".join(_line(line) for line in content)
    return str(content)


def _line(line) -> str:
    if not isinstance(line, dict):
        return str(line)
    errors = [f"{e.get('exc_type')}: {e.get('exc_value')}" for e in line.get("error_detail") or []]
    return " | ".join([str(line.get("event", "")), *errors])


def scheduled_runs_after(dag_id: str, moment: datetime, run_type: str = "scheduled") -> list[dict]:
    """Runs the scheduler started after `moment` (timezone-aware), oldest first: on the DAG's schedule, or
    with run_type="asset_triggered", on an update of the asset it is scheduled on."""
    runs = api(
        "GET",
        f"/dags/{dag_id}/dagRuns",
        params={"run_type": run_type, "run_after_gte": moment.isoformat(), "order_by": "run_after"},
    )["dag_runs"]
    return runs


def set_variable(key: str, value: str) -> None:
    """Sets an Airflow Variable (creates it if missing), as Admin > Variables in the UI does."""
    try:
        api("PATCH", f"/variables/{key}", json={"key": key, "value": value})
    except requests.HTTPError as error:
        if error.response is None or error.response.status_code != 404:
            raise
        api("POST", "/variables", json={"key": key, "value": value})


def is_paused(dag_id: str) -> bool:
    return api("GET", f"/dags/{dag_id}")["is_paused"]


def set_paused(dag_id: str, paused: bool) -> None:
    """Pauses or unpauses a DAG, as the toggle in the UI does (a paused DAG's schedule starts no run)."""
    api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})


@contextlib.contextmanager
def paused(dag_id: str) -> Iterator[None]:
    """The DAG paused for the block and unpaused after it, however the block ends."""
    set_paused(dag_id, True)
    try:
        yield
    finally:
        set_paused(dag_id, False)
