"""The fault matrix: one service fails mid-stream, the platform recovers, nothing is lost or doubled.

Each case streams the same simulated transactions (a few bad records among them) at a steady rate into a
scoring job instance of its own, injects its fault once a third of them is in Iceberg, lets the platform
recover, and reconciles exactly against an uninterrupted run of the same stream:

* produced = scored + dead-lettered, and no transaction is in Iceberg twice (what the test's producer
  wrote twice when the broker was killed is in Kafka twice: each repeat must be dead-lettered as a
  duplicate tx_id);
* every ALERT row is on the alerts topic (alerts are at-least-once on the platform: repeats are counted);
* every score, decision, reason and feature equals the uninterrupted run's;
* Trino, the analysts' engine, counts the same rows.

It prints a table (time to recover, job restarts) and writes bench/results/faults-<time>.json. Run by
hand with the stack up, and nothing else running (each case takes 1-3 min; a JobManager kill also ends
every other job on the cluster, the platform's included, which the health DAG then restarts):

    PYTHONPATH=. .venvs/app/bin/python -m bench.faults                      # every case
    PYTHONPATH=. .venvs/app/bin/python -m bench.faults kafka_broker_kill    # some of them

The dead-letter topic is checked too (DLQ lost): it is exactly-once, so a restart later than the Kafka
transaction timeout can lose the letters of the checkpoint whose commit the broker aborted (Iceberg keeps
them); the kafka_transaction_timeout case provokes such a restart and notes what the health DAG says.

tests/integration/test_streaming_e2e.py runs the cases that fit CI's time through the same code; the soak
(30 min at 1,000 tx/s with a TaskManager kill halfway) is bench/soak.py.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import pipeline
from include import job_health, scoring_job
from include.lakehouse import trino_query
from producer.simulator import Simulator
from stack import supervisor
from stack.services import SERVICES

RESULTS = Path(__file__).parent / "results"
START_MS = 1_767_225_600_000  # 2026-01-01
# ~12,000 transactions of 1,200 cards over 4 days, frauds confirmed a day later (so confirmations reach
# the scorer during the run), 12 bad records among them, sent at 500 tx/s: about 25 s of stream.
CARDS, SEED, DAYS, RATE = 1200, 811, 4, 500
BAD_EVERY, BAD_LIMIT = 1000, 12
# The columns of scored_transactions a failure must not change.
COMPARED = (
    "score",
    "decision",
    "reasons",
    "model_version",
    "card_tx_count_24h",
    "card_amount_mean_30d",
    "amount_zscore_30d",
    "speed_from_prev_kmh",
    "is_new_terminal",
    "terminal_fraud_count_7d",
    "card_fraud_count_30d",
    "card_history_count",
)
SERVICE_TIMEOUT_S = 240  # bound on a service's return to health after its fault


def simulated_items():
    return list(Simulator(CARDS, seed=SEED, start_ms=START_MS, days=DAYS).transactions())


# --- Faults ---------------------------------------------------------------------------------------------


def kill_program(program: str) -> None:
    """SIGKILL a stack program and its children (its process group), like a crashed machine. Waits for
    the program to run first: supervisord may still be starting it after an earlier kill."""
    pipeline.wait_until(
        lambda: supervisor.program_info(program).state == "RUNNING", SERVICE_TIMEOUT_S, f"{program} running"
    )
    pid = supervisor.program_info(program).pid
    assert pid > 1, f"{program} has no process"
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def wait_healthy(service: str, timeout_s: float = SERVICE_TIMEOUT_S) -> None:
    check = SERVICES[service].check
    pipeline.wait_until(lambda: _passes(check), timeout_s, f"{service} healthy again", every_s=1)


def _passes(check: Callable[[], str]) -> bool:
    try:
        check()
        return True
    except Exception:  # any failure of a health check means "not yet"
        return False


def down_for(service: str, seconds: float, kill: bool = False) -> None:
    """Takes a service down for `seconds` (SIGKILL first if `kill`, else a clean stop), then starts it
    and waits until it is healthy."""
    programs = SERVICES[service].programs
    if kill:
        for program in programs:
            kill_program(program)
    for program in programs:  # supervisord would start a killed program again at once
        supervisor.stop(program)
    time.sleep(seconds)
    for program in programs:
        supervisor.start(program)
    wait_healthy(service)


def kill_jobmanager() -> None:
    """kill -9 of the JobManager's JVM; supervisord starts a new one, which knows no job (no HA)."""
    launcher = psutil.Process(supervisor.program_info("flink-jobmanager").pid)
    for process in (launcher, *launcher.children(recursive=True)):
        if process.name() == "java":
            os.kill(process.pid, signal.SIGKILL)
    time.sleep(2)
    wait_healthy("flink")


# The transaction-timeout case: its instance's Kafka transactions time out after a minute (the platform's
# after KAFKA_TRANSACTION_TIMEOUT_MS, 15 min), and the JobManager stays down half a minute longer.
SHORT_TRANSACTION_TIMEOUT_MS = 60_000


def jobmanager_down_past_the_transaction_timeout() -> None:
    """The JobManager stopped (the job's tasks fail, its open transactions stay on the broker) for longer
    than the instance's transaction timeout, then started again: it knows no job, which is restarted as the
    health DAG does, from the newest checkpoint, after the broker has aborted what was open."""
    supervisor.stop("flink-jobmanager")
    time.sleep(SHORT_TRANSACTION_TIMEOUT_MS / 1000 + 30)
    supervisor.start("flink-jobmanager")
    wait_healthy("flink")


def kill_taskmanager_twice() -> None:
    """Two TaskManager kills, the second as soon as the first one's replacement registers: within one
    checkpoint interval (10 s), before the job completes a checkpoint in between."""
    kill_program("flink-taskmanager")
    wait_healthy("flink")
    kill_program("flink-taskmanager")
    wait_healthy("flink")


def restart_postgres_after_a_checkpoint(job_id: str) -> None:
    """Stops PostgreSQL the moment a checkpoint completes, when the Iceberg committers commit to the
    catalog in it, and starts it again."""
    rest = scoring_job.flink()
    completed = (rest.checkpoints(job_id).get("counts") or {}).get("completed", 0)
    pipeline.wait_until(
        lambda: (rest.checkpoints(job_id).get("counts") or {}).get("completed", 0) > completed,
        60,
        "a checkpoint",
        every_s=0.1,
    )
    down_for("postgres", 2)


@dataclass(frozen=True)
class Fault:
    name: str
    how: str
    inject: Callable[[str], None]  # called with the job's id; returns once the failed service is back
    loses_job: bool = False  # the job is gone afterwards: restarted as the health DAG does
    instance_options: dict = field(default_factory=dict)  # Deployment fields the case needs


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in [
        Fault("none", "no fault: the reference run", lambda _: None),
        Fault("kafka_broker_kill", "Kafka broker kill -9, restarted after 20 s", lambda _: down_for("kafka", 20, True)),
        Fault("s3_down", "S3 (S3Proxy) stopped for 60 s", lambda _: down_for("s3", 60)),
        Fault("postgres_restart", "PostgreSQL restarted as a checkpoint commits", restart_postgres_after_a_checkpoint),
        Fault("taskmanager_kill", "TaskManager kill -9", lambda _: kill_program("flink-taskmanager")),
        Fault(
            "dynamodb_down", "DynamoDB stopped for 30 s (the retries last ~11 s)", lambda _: down_for("dynamodb", 30)
        ),
        Fault(
            "taskmanager_kill_twice",
            "TaskManager kill -9 twice within a checkpoint interval",
            lambda _: kill_taskmanager_twice(),
        ),
        Fault(
            "jobmanager_kill",
            "JobManager kill -9; the job restarted as the health DAG does",
            lambda _: kill_jobmanager(),
            loses_job=True,
        ),
        Fault(
            "kafka_transaction_timeout",
            "JobManager down 90 s, past the job's Kafka transaction timeout (60 s here); restarted as the health DAG does",
            lambda _: jobmanager_down_past_the_transaction_timeout(),
            loses_job=True,
            instance_options={"kafka_transaction_timeout_ms": SHORT_TRANSACTION_TIMEOUT_MS},
        ),
    ]
}


# --- One case -------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: str
    how: str
    produced: int = 0  # transactions sent (valid and bad)
    # Records the test's producer wrote twice: a broker killed under an idempotent librdkafka producer can
    # make it bump its epoch and resend what the broker had already written. The job dead-letters each
    # repeat as duplicate_tx_id (include/scoring/scorer.py), so they must equal those letters.
    producer_repeats: int = 0
    duplicate_tx_id_letters: int = 0
    scored: int = 0
    dead_lettered: int = 0  # rows of the dead_letters table (Iceberg: the record of every rejection)
    dead_letters_off_topic: int = 0  # of those, how many the dead-letter topic lacks (aborted transactions)
    dead_letter_repeats: int = 0  # dead_letters rows for a Kafka record (topic, partition, offset) seen before
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)  # per topic and reason (its first word)
    duplicates: int = 0  # rows of scored_transactions beyond one per tx_id
    missing: int = 0  # valid transactions not in Iceberg
    alerts_missing: int = 0  # ALERT rows not on the alerts topic
    alert_repeats: int = 0  # alerts on the topic more than once (at-least-once)
    score_mismatches: int = 0  # rows that differ from the uninterrupted run in COMPARED
    trino_rows: int = -1  # scored_transactions counted through Trino afterwards (-1: the query failed)
    recovery_s: float | None = None  # fault injected -> first checkpoint completed after it was lifted
    job_restarts: int = 0  # Flink's restarts of the job, plus resubmissions after the job was lost
    failures: list[str] = field(default_factory=list)  # the job's exceptions, one line each, newest first
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The figures without the failures' text: what an assertion shows."""
        figures = {k: v for k, v in asdict(self).items() if k not in ("how", "failures")}
        return ", ".join(f"{k}={v}" for k, v in figures.items())

    @property
    def reconciled(self) -> bool:
        return (
            self.produced + self.producer_repeats == self.scored + self.dead_lettered
            and self.duplicate_tx_id_letters == self.producer_repeats
            and self.trino_rows == self.scored
            and not (self.duplicates or self.missing or self.alerts_missing or self.score_mismatches)
        )


def run_case(
    fault: Fault, items: list, reference: dict[str, dict] | None, **instance_options
) -> tuple[CaseResult, dict[str, dict]]:
    """Streams `items` through a new instance (`instance_options`: see pipeline.new_deployment), injects
    `fault` once a third is in Iceberg, waits until everything produced is consumed, and reconciles
    against `reference` (tx_id -> row; None: the run is the reference). Returns the figures and the
    run's rows."""
    deployment = pipeline.new_deployment(
        f"fault_{fault.name}_{uuid.uuid4().hex[:6]}", **{**fault.instance_options, **instance_options}
    )
    rest = scoring_job.flink()
    result = CaseResult(fault.name, fault.how)
    try:
        job_ids = [scoring_job.submit(deployment, parallelism=1)]
        rest.wait_for_state(job_ids[0], {"RUNNING"})
        injected: dict[str, float] = {}

        def inject_when_a_third_is_in_iceberg() -> None:
            pipeline.wait_until(
                lambda: pipeline.committed(deployment, "scored_transactions") >= len(items) // 3,
                240,
                "a third of the run in Iceberg",
                every_s=1,
            )
            injected["at"] = time.time()
            fault.inject(job_ids[0])
            injected["lifted"] = time.time()

        injecting = threading.Thread(target=inject_when_a_third_is_in_iceberg, daemon=True)
        injecting.start()
        sent = pipeline.produce(deployment, items, rate=RATE, bad_every=BAD_EVERY, bad_limit=BAD_LIMIT)
        injecting.join(timeout=600)
        assert "lifted" in injected, f"{fault.name}: the fault was not over within 600 s"
        if fault.loses_job:
            assert not scoring_job.running(deployment, rest), "the job outlived its JobManager"
            job_ids.append(scoring_job.restart(deployment, rest)[0])
            result.job_restarts += 1
            # What the health DAG says of such a restart (include/job_health.py).
            down_s = injected["lifted"] - injected["at"]
            if warning := job_health.late_restart_warning(down_s, deployment.transaction_timeout_s()):
                result.notes.append(f"health DAG: {warning}")
        result.recovery_s = _recovery_s(rest, job_ids[-1], injected["at"], injected["lifted"])
        try:
            pipeline.run_until_consumed(deployment, sent)
        except AssertionError as incomplete:  # reconciled below: what is missing is counted
            result.notes.append(str(incomplete))
        result.job_restarts += job_health.restarts(rest, job_ids[-1])
        result.failures = rest.exceptions(job_ids[-1])
        rows = _reconcile(result, deployment, sent, reference)
        return result, rows
    finally:
        deployment.remove()


def _recovery_s(rest, job_id: str, injected_at: float, lifted_at: float, timeout_s: float = 600) -> float:
    """Seconds from the fault's injection to the first checkpoint of the running job triggered after the
    fault was lifted."""
    found: dict[str, float] = {}

    def checkpointed_after_the_fault() -> bool:
        if rest.job(job_id)["state"] != "RUNNING":
            return False
        latest = rest.latest_checkpoint(job_id)
        if latest and latest.get("trigger_timestamp", 0) / 1000 > lifted_at:
            found["at"] = latest["latest_ack_timestamp"] / 1000
        return "at" in found

    pipeline.wait_until(checkpointed_after_the_fault, timeout_s, "a checkpoint after the fault", every_s=0.5)
    return round(found["at"] - injected_at, 1)


def _reconcile(
    result: CaseResult, deployment: scoring_job.Deployment, sent: pipeline.Sent, reference: dict[str, dict] | None
) -> dict[str, dict]:
    table = pipeline.iceberg_rows(deployment, "scored_transactions")
    rows = {row["tx_id"]: row for row in table}
    result.produced = sent.transaction_messages
    result.scored = len(rows)
    result.duplicates = len(table) - len(rows)
    result.missing = len(set(sent.valid) - set(rows))
    letters = pipeline.dead_letter_rows(deployment)
    result.dead_lettered = len(letters)
    records = {(letter["topic"], letter["kafka_partition"], letter["kafka_offset"]) for letter in letters}
    result.dead_letter_repeats = len(letters) - len(records)
    reasons = collections.Counter(f"{letter['topic']}: {letter['reason'].split(':')[0]}" for letter in letters)
    result.dead_letter_reasons = dict(sorted(reasons.items()))
    result.producer_repeats = pipeline.records_in_topic(deployment.transactions_topic) - result.produced
    result.duplicate_tx_id_letters = sum(1 for letter in letters if letter["reason"].startswith("duplicate_tx_id"))
    letters_on_topic = len(pipeline.read_topic(deployment.dlq_topic, decode=bytes))
    result.dead_letters_off_topic = max(0, result.dead_lettered - letters_on_topic)
    try:  # analysts read through Trino: it must answer after the fault too (its catalog is in PostgreSQL)
        result.trino_rows = trino_query(f"select count(*) from {deployment.table('scored_transactions')}")[0][0]
    except Exception as failed:  # counted as not reconciled, with the reason
        result.notes.append(f"Trino: {failed}")
    alert_keys = [key for key, _ in pipeline.read_topic(deployment.alerts_topic)]
    alert_rows = {tx_id for tx_id, row in rows.items() if row["decision"] == "ALERT"}
    result.alerts_missing = len(alert_rows - set(alert_keys))
    result.alert_repeats = len(alert_keys) - len(set(alert_keys))
    if reference is not None:
        result.score_mismatches = sum(
            1
            for tx_id, row in rows.items()
            if tx_id not in reference or any(row[c] != reference[tx_id][c] for c in COMPARED)
        )
    return rows


# --- The matrix -----------------------------------------------------------------------------------------


def report(results: list[CaseResult]) -> str:
    header = (
        f"{'case':<24} {'produced':>8} {'sent twice':>10} {'scored':>7} {'dead':>5} {'dup':>4} {'lost':>5} "
        f"{'alerts lost':>11} {'repeats':>7} {'≠ scores':>8} {'DLQ lost':>8} {'recovery s':>10} {'restarts':>8}"
        "  reconciled"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        recovery = "-" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        lines.append(
            f"{r.case:<24} {r.produced:>8,} {r.producer_repeats:>10} {r.scored:>7,} {r.dead_lettered:>5} "
            f"{r.duplicates:>4} {r.missing:>5} "
            f"{r.alerts_missing:>11} {r.alert_repeats:>7} {r.score_mismatches:>8} {r.dead_letters_off_topic:>8} "
            f"{recovery:>10} "
            f"{r.job_restarts:>8}  {'yes' if r.reconciled else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help=f"faults to inject (default: all): {', '.join(FAULTS)}")
    args = parser.parse_args(argv)
    unknown = set(args.cases) - set(FAULTS)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(FAULTS)}")
    names = [name for name in (args.cases or FAULTS) if name != "none"]
    items = simulated_items()
    started = datetime.now(UTC)
    print(f"[faults] reference run, then {', '.join(names)}: {len(items):,} transactions each", flush=True)
    baseline, reference = run_case(FAULTS["none"], items, None)
    results = [baseline]
    for name in names:
        print(f"[faults] {name}: {FAULTS[name].how}", flush=True)
        results.append(run_case(FAULTS[name], items, reference)[0])
        print(report(results[-1:]).splitlines()[-1], flush=True)
    table = report(results)
    print(f"\n{table}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"faults-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "stream": {"cards": CARDS, "seed": SEED, "days": DAYS, "rate": RATE, "transactions": len(items)},
                "cases": [{**asdict(r), "reconciled": r.reconciled} for r in results],
                "table": table,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {path}")
    return 0 if all(r.reconciled for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
