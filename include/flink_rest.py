"""A small client for the Flink REST API (https://nightlies.apache.org/flink/flink-docs-release-2.0/docs/ops/rest_api/).

Used by the deploy and health-check DAGs and by the tests. Only the calls the platform needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from include import settings

# States a job never leaves (every other state may still lead to RUNNING).
TERMINAL_STATES = frozenset({"FAILED", "CANCELED", "FINISHED"})


class FlinkError(RuntimeError):
    pass


def failure_summary(stacktrace: str) -> str:
    """One line saying why a task failed. For a failure in Python (a UDF) the Java exception only says that
    the Python worker failed; the error that matters is the last line of the Python traceback embedded in
    its message, e.g. `include.scoring.card_store.DynamoUnavailable: DynamoDB ... failed 10 times`."""
    lines = stacktrace.splitlines()
    start = next((i for i, line in enumerate(lines) if line.endswith("Traceback (most recent call last):")), None)
    if start is None:
        return lines[0] if lines else ""
    error = lines[0]
    for line in lines[start + 1 :]:
        if line.startswith(("\tat ", "Caused by:")):
            break
        if (
            line
            and not line[0].isspace()
            and not line.startswith(
                (
                    "Traceback (most recent call last):",
                    "During handling of the above exception",
                    "The above exception was the direct cause",
                )
            )
        ):
            error = line
    return error


@dataclass(frozen=True)
class ClientTls:
    """PEM files for a REST API that asks for a client certificate (mutual TLS)."""

    ca_file: str  # the server certificates to trust
    client_cert: str  # the client's key and certificate


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    state: str


class FlinkRest:
    def __init__(self, base_url: str, timeout_s: float = 10.0, client_tls: ClientTls | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        if client_tls is not None:
            # The environment's REQUESTS_CA_BUNDLE would replace the CA given here.
            self.session.trust_env = False
            self.session.verify = client_tls.ca_file
            self.session.cert = client_tls.client_cert

    @classmethod
    def platform(cls, timeout_s: float = 10.0) -> FlinkRest:
        """The platform's Flink (FLINK_REST_URL), presenting the client certificate its REST API asks for
        (FLINK_REST_CLIENT_CERT; none when that setting is empty)."""
        client_tls = None
        if settings.get("FLINK_REST_CLIENT_CERT"):
            client_tls = ClientTls(settings.get("FLINK_REST_CA_FILE"), settings.get("FLINK_REST_CLIENT_CERT"))
        return cls(settings.get("FLINK_REST_URL"), timeout_s, client_tls)

    def _get(self, path: str) -> dict:
        response = self.session.get(f"{self.base_url}{path}", timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: dict) -> dict:
        response = self.session.post(f"{self.base_url}{path}", json=body, timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()

    def overview(self) -> dict:
        return self._get("/overview")

    def jobs(self, name: str | None = None) -> list[Job]:
        """Every job the JobManager knows (of that name, if given), ended or not."""
        return [
            Job(j["jid"], j["name"], j["state"])
            for j in self._get("/jobs/overview")["jobs"]
            if name is None or j["name"] == name
        ]

    def running_jobs(self, name: str | None = None) -> list[Job]:
        """Jobs that have not ended: RUNNING, or on the way to or from it (created, restarting, failing...)."""
        return [j for j in self.jobs(name) if j.state not in TERMINAL_STATES]

    def job(self, job_id: str) -> dict:
        return self._get(f"/jobs/{job_id}")

    def job_config(self, job_id: str) -> tuple[int, dict[str, str]]:
        """(parallelism, global job parameters) the job was submitted with."""
        execution = self._get(f"/jobs/{job_id}/config")["execution-config"]
        return int(execution["job-parallelism"]), execution.get("user-config") or {}

    def checkpoints(self, job_id: str) -> dict:
        return self._get(f"/jobs/{job_id}/checkpoints")

    def latest_checkpoint(self, job_id: str) -> dict | None:
        """The job's latest completed checkpoint (id, latest_ack_timestamp, external_path), or None."""
        return (self.checkpoints(job_id).get("latest") or {}).get("completed")

    def restore_point(self, job_id: str) -> tuple[int, str] | None:
        """The newest state the job can be resumed from, as (epoch ms, path): the newest of its latest completed
        checkpoint, its latest savepoint and the state it was restored from (still its state if it has
        completed neither since); None if there is none."""
        latest = self.checkpoints(job_id).get("latest") or {}
        points = [
            (p["latest_ack_timestamp"], p["external_path"])
            for p in (latest.get("completed"), latest.get("savepoint"))
            if p and p.get("external_path") and not p.get("discarded")
        ]
        if (restored := latest.get("restored")) and restored.get("external_path"):
            points.append((restored["restore_timestamp"], restored["external_path"]))
        return max(points, default=None)

    def job_metric(self, job_id: str, name: str) -> float | None:
        values = self._get(f"/jobs/{job_id}/metrics?get={name}")
        return float(values[0]["value"]) if values else None

    def exceptions(self, job_id: str) -> list[str]:
        """The job's failures, newest first, each in one line (`failure_summary`)."""
        entries = self._get(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries", [])
        return [failure_summary(e.get("stacktrace", "")) for e in entries]

    def cancel(self, job_id: str) -> None:
        self.session.patch(f"{self.base_url}/jobs/{job_id}?mode=cancel", timeout=self.timeout_s).raise_for_status()

    def wait_for_state(self, job_id: str, states: set[str], timeout_s: float = 120) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.job(job_id)["state"]
            if state in states:
                return state
            if state in TERMINAL_STATES:
                raise FlinkError(f"job {job_id} is {state}: {self.exceptions(job_id)[:1]}")
            if time.monotonic() > deadline:
                raise FlinkError(f"job {job_id} still {state} after {timeout_s:.0f} s, expected {sorted(states)}")
            time.sleep(1)

    def checkpoint(self, job_id: str, timeout_s: float = 180) -> int:
        """Triggers a checkpoint now, rather than waiting up to a checkpoint interval for the next periodic one,
        and returns its id once it has completed (its sinks have committed). A job whose tasks are still
        starting refuses the trigger: it is tried again each second until the deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            trigger = self._post(f"/jobs/{job_id}/checkpoints", {"checkpointType": "CONFIGURED"})["request-id"]
            operation = self._operation(
                f"/jobs/{job_id}/checkpoints/{trigger}",
                deadline,
                f"the checkpoint triggered in job {job_id} (timeout {timeout_s:.0f} s)",
                poll_s=0.2,
            )
            if "checkpointId" in operation:
                return operation["checkpointId"]
            refused = failure_summary((operation.get("failureCause") or {}).get("stack-trace", ""))
            if time.monotonic() > deadline:
                raise FlinkError(f"job {job_id}: no checkpoint completed within {timeout_s:.0f} s ({refused})")
            self.wait_for_state(job_id, {"RUNNING"}, timeout_s=max(1.0, deadline - time.monotonic()))
            time.sleep(1)

    def stop_with_savepoint(self, job_id: str, target_dir: str | None = None, timeout_s: float = 300) -> str:
        """Stops the job after a savepoint (sources stop first, sinks commit); returns its path."""
        body = {"drain": False, **({"targetDirectory": target_dir} if target_dir else {})}
        trigger = self._post(f"/jobs/{job_id}/stop", body)["request-id"]
        operation = self._operation(
            f"/jobs/{job_id}/savepoints/{trigger}",
            time.monotonic() + timeout_s,
            f"savepoint of {job_id} (timeout {timeout_s:.0f} s)",
            poll_s=1.0,
        )
        if "failure-cause" in operation:
            raise FlinkError(f"savepoint of {job_id} failed: {operation['failure-cause'].get('class')}")
        return operation["location"]

    def _operation(self, status_path: str, deadline: float, what: str, poll_s: float) -> dict:
        """The result of an asynchronous operation (savepoint, triggered checkpoint) once it has completed,
        successfully or not; raises FlinkError if it is still running at the deadline."""
        while (result := self._get(status_path))["status"]["id"] != "COMPLETED":
            if time.monotonic() > deadline:
                raise FlinkError(f"{what} did not complete in time")
            time.sleep(poll_s)
        return result.get("operation", {})

    def udf_metrics(self, job_id: str, group: str = "fraud") -> dict[str, float]:
        """User metrics of the job's Python operator (flink/udf_metrics.py registers them under `group`),
        summed over its subtasks: the group's own counters and gauges, not those of its subgroups (the
        histograms' buckets, dead letters by reason: Prometheus has those), whose ~80 names would not
        fit one request. The REST API refreshes them every few seconds."""
        for vertex in self.job(job_id)["vertices"]:
            if "PythonCalc" not in vertex["name"]:
                continue
            base = f"/jobs/{job_id}/vertices/{vertex['id']}"
            names = sorted(
                {
                    m["id"].split(".", 1)[1]
                    for m in self._get(f"{base}/metrics")
                    if f".{group}." in m["id"] and "." not in m["id"].rsplit(f".{group}.", 1)[1]
                }
            )
            if not names:
                return {}
            summed = self._get(f"{base}/subtasks/metrics?get={','.join(names)}&agg=sum")
            return {m["id"].rsplit(".", 1)[1]: m["sum"] for m in summed}
        return {}
