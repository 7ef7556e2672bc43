"""The streaming pipeline end to end on the real stack: producer -> Kafka -> Flink SQL + Python UDF with
DynamoDB card history -> Iceberg, fraud_alerts and the dead-letter topic.

One uninterrupted run of ~13,000 simulated transactions (with bad records mixed in) is checked for
exactness; runs of the same data through a failure mid-stream (the TaskManager killed, DynamoDB down)
must end with the same rows, the same alerts and the same scores.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Callable

import pytest

from include import scoring_job
from include.transactions import format_event_time
from producer.simulator import Simulator
from tests.integration import pipeline
from tests.integration.pipeline import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.disruptive]  # the TaskManager killed, DynamoDB stopped

START_MS = 1_767_225_600_000  # 2026-01-01
EXPECTED_REASON = {
    0: "malformed_json",
    1: "missing_field",
    2: "wrong_type",
    3: "invalid_amount",
    4: "invalid_amount",
    5: "invalid_amount",
    6: "invalid_card_id",
    7: "unknown_field",
}
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


def simulated_items():
    # 1,200 cards over 4 days: ~12,000 transactions; frauds confirmed one day later, so confirmations
    # reach the scorer while the run goes on.
    return list(Simulator(1200, seed=811, start_ms=START_MS, days=4).transactions())


@pytest.fixture(scope="module")
def items():
    return simulated_items()


@pytest.fixture(scope="module")
def uninterrupted(items):
    deployment = pipeline.new_deployment(f"e2e_{uuid.uuid4().hex[:8]}")
    try:
        job_id = scoring_job.submit(deployment, parallelism=1)
        scoring_job.flink().wait_for_state(job_id, {"RUNNING"})
        sent = pipeline.produce(deployment, items, bad_every=1000, bad_limit=12)
        pipeline.run_until_consumed(deployment, sent)
        yield deployment, sent, pipeline.scored_rows(deployment), job_id
    finally:
        deployment.remove()


def test_at_least_ten_thousand_transactions_and_a_few_bad_ones_were_produced(uninterrupted):
    _, sent, _, _ = uninterrupted
    assert len(sent.valid) >= 10_000 and len(sent.bad) == 12 and sent.feedback


def test_iceberg_holds_exactly_the_valid_transactions_once_each(uninterrupted):
    _, sent, rows, _ = uninterrupted
    assert set(rows) == set(sent.valid)
    for tx_id, row in list(rows.items())[:500]:
        tx = sent.valid[tx_id].tx
        assert (row["card_id"], row["terminal_id"], row["amount"]) == (tx.card_id, tx.terminal_id, tx.amount)
        assert 0.0 <= row["score"] <= 1.0 and row["decision"] in ("ALERT", "PASS")
        assert isinstance(json.loads(row["reasons"]), list)


def test_fraud_alerts_holds_exactly_the_flagged_transactions(uninterrupted):
    deployment, _, rows, _ = uninterrupted
    alerts = pipeline.read_topic(deployment.alerts_topic)
    flagged = {tx_id for tx_id, row in rows.items() if row["decision"] == "ALERT"}
    assert flagged, "nothing was flagged"
    assert sorted(key for key, _ in alerts) == sorted(flagged)
    for key, alert in alerts:
        assert alert["tx_id"] == key and alert["score"] == pytest.approx(rows[key]["score"], abs=1e-6)
        assert alert["reasons"] and alert["detected_at"]


def test_dead_letters_hold_exactly_the_bad_records_with_their_reasons(uninterrupted):
    deployment, sent, _, _ = uninterrupted
    letters = [value for _, value in pipeline.read_topic(deployment.dlq_topic)]
    assert sorted(letter["payload_prefix"] for letter in letters) == sorted(v.decode() for v in sent.bad.values())
    kind_of = {payload.decode(): int(tx_id.split("-")[1]) % 8 for tx_id, payload in sent.bad.items()}
    for letter in letters:
        assert letter["reason"].startswith(EXPECTED_REASON[kind_of[letter["payload_prefix"]]]), letter
    # each letter keeps the record timestamp its bad record was sent with (payloads may repeat)
    assert sorted((letter["payload_prefix"], letter["kafka_timestamp"]) for letter in letters) == sorted(
        (payload.decode(), format_event_time(sent.bad_sent_ms[tx_id])) for tx_id, payload in sent.bad.items()
    )
    # the exact bytes of each are in Iceberg
    stored = pipeline.dead_letter_rows(deployment)
    assert sorted(row["payload"] for row in stored) == sorted(sent.bad.values())


def test_counts_reconcile_produced_equals_scored_plus_dead_lettered(uninterrupted):
    deployment, sent, rows, job_id = uninterrupted
    assert sent.transaction_messages == len(rows) + pipeline.count(deployment, "dead_letters")

    # the UDF ran exactly once per record, although four sinks read its result
    def udf_calls() -> float:
        metrics = scoring_job.flink().udf_metrics(job_id)
        return metrics.get("records_scored", 0) + metrics.get("records_rejected", 0)

    wait_until(lambda: udf_calls() >= sent.transaction_messages, 30, "the UDF metrics to catch up")
    assert udf_calls() == sent.transaction_messages


def test_the_job_plan_evaluates_the_udf_once_for_all_sinks():
    plan = scoring_job.explain()
    execution = plan[plan.index("== Optimized Execution Plan ==") :]
    assert execution.count("PythonCalc(") == 1
    assert execution.count("Reused(reference_id=[1])") >= 5
    assert execution.count("TableSourceScan(") == 1  # both topics, one reader, also for oversized values


def test_confirmed_frauds_reach_iceberg_and_the_scorer(uninterrupted):
    deployment, sent, rows, _ = uninterrupted
    assert pipeline.count(deployment, "fraud_feedback") == len(sent.feedback)
    assert any(row["card_fraud_count_30d"] or row["terminal_fraud_count_7d"] for row in rows.values())


def test_dynamodb_history_matches_the_valid_transactions(uninterrupted):
    deployment, sent, _, _ = uninterrupted
    by_card: dict[str, set[str]] = {}
    for tx_id, item in sent.valid.items():
        by_card.setdefault(item.tx.card_id, set()).add(tx_id)
    histories = pipeline.card_histories(deployment, by_card)
    assert histories == by_card


def _kill_taskmanager() -> None:
    """SIGKILL the TaskManager and its Python workers, like a crashed machine; supervisord restarts it."""
    from stack import supervisor

    pid = supervisor.program_info("flink-taskmanager").pid
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def _stream_through_a_failure(
    items, fail: Callable[[], None], dynamodb_max_attempts: int | None = None
) -> tuple[scoring_job.Deployment, pipeline.Sent, str]:
    """Streams `items` (with bad records) through a new exactly-once instance of the job, calls `fail` once a
    third of them is in Iceberg, and returns once everything produced has been consumed."""
    deployment = pipeline.new_deployment(
        f"restart_{uuid.uuid4().hex[:8]}", alerts_delivery="exactly-once", dynamodb_max_attempts=dynamodb_max_attempts
    )
    job_id = scoring_job.submit(deployment, parallelism=1)
    rest = scoring_job.flink()
    rest.wait_for_state(job_id, {"RUNNING"})
    failed = threading.Event()

    def fail_when_a_third_is_in_iceberg() -> None:
        wait_until(
            lambda: pipeline.committed(deployment, "scored_transactions") >= len(items) // 3,
            240,
            "a third of the run in Iceberg",
            every_s=1,
        )
        fail()
        failed.set()

    failing = threading.Thread(target=fail_when_a_third_is_in_iceberg, daemon=True)
    failing.start()
    sent = pipeline.produce(deployment, items, rate=500, bad_every=1000, bad_limit=12)
    failing.join(timeout=300)
    assert failed.is_set(), "the failure never happened"
    wait_until(
        lambda: (
            rest.job(job_id)["state"] == "RUNNING"
            and (rest.checkpoints(job_id).get("counts") or {}).get("restored", 0) >= 1
        ),
        300,
        "the job to restore from a checkpoint",
    )
    pipeline.run_until_consumed(deployment, sent)
    return deployment, sent, job_id


def _assert_same_as_uninterrupted(deployment: scoring_job.Deployment, sent: pipeline.Sent, reference: dict) -> None:
    rows = pipeline.scored_rows(deployment)  # fails if any transaction is there twice
    assert set(rows) == set(sent.valid) == set(reference)
    alerts = [key for key, _ in pipeline.read_topic(deployment.alerts_topic)]
    assert sorted(alerts) == sorted(t for t, row in rows.items() if row["decision"] == "ALERT")
    different = {t: {c: (rows[t][c], reference[t][c]) for c in COMPARED if rows[t][c] != reference[t][c]} for t in rows}
    different = {t: d for t, d in different.items() if d}
    assert not different, (
        f"{len(different)} scores differ from the uninterrupted run, e.g. {list(different.items())[:3]}"
    )
    assert pipeline.count(deployment, "dead_letters") == len(sent.bad)


def test_killing_the_taskmanager_mid_stream_loses_and_doubles_nothing_and_scores_the_same(items, uninterrupted):
    deployment = None
    try:
        deployment, sent, _ = _stream_through_a_failure(items, _kill_taskmanager)
        _assert_same_as_uninterrupted(deployment, sent, uninterrupted[2])
    finally:
        if deployment:
            deployment.remove()


def test_a_dynamodb_outage_mid_stream_slows_the_job_and_loses_and_doubles_nothing(
    items, uninterrupted, restart_service
):
    """DynamoDB down for 10 s, longer than this instance's retries last (6 attempts: at most 3.2 s of
    backoff; the platform's 10 ride out ~11 s): the task fails with DynamoUnavailable and Flink restarts it
    from its last checkpoint until DynamoDB answers again; nothing is scored without history."""
    deployment = None
    try:
        deployment, sent, job_id = _stream_through_a_failure(
            items, lambda: restart_service("dynamodb", down_s=10), dynamodb_max_attempts=6
        )
        assert any("DynamoUnavailable" in failure for failure in scoring_job.flink().exceptions(job_id))
        _assert_same_as_uninterrupted(deployment, sent, uninterrupted[2])
    finally:
        if deployment:
            deployment.remove()
