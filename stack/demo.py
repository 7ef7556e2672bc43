"""The demo `make demo` runs once the stack is up: the whole pipeline, end to end, in about two minutes.

1. deploys the scoring job (or leaves the running one alone),
2. streams a simulated week of transactions (with a few bad records) into Kafka,
3. waits until Iceberg holds them, then shows what came out: alerts on fraud_alerts, dead letters,
   and a query in Trino.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, TopicPartition

from include import kafka_config, scoring_job, settings
from include.lakehouse import trino_query
from producer.cli import main as produce


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _last_messages(topic: str, count: int, timeout_s: float = 10.0) -> list[dict]:
    """The last `count` messages of a topic, oldest first."""
    consumer = Consumer(
        kafka_config.client_config(
            {
                "group.id": "demo-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    assignment = []
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        # Transactional topics hold commit markers between messages: read a few more offsets back.
        assignment.append(TopicPartition(topic, partition, max(low, high - 3 * count)))
    consumer.assign(assignment)
    messages, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = consumer.consume(1000, timeout=1)
        if not batch and messages:
            break
        messages += [m for m in batch if not m.error()]
    consumer.close()
    messages.sort(key=lambda m: m.timestamp()[1])
    return [json.loads(m.value()) for m in messages[-count:]]


def main() -> int:
    deployment = scoring_job.Deployment.platform()
    if scoring_job.running(deployment):
        _say(f"the scoring job is running ({scoring_job.running(deployment)[0].id})")
    else:
        _say("deploying the scoring job (Flink SQL + Python UDF) ...")
        deployed = scoring_job.deploy(deployment)
        resumed = f", resumed from {deployed.savepoint}" if deployed.savepoint else ""
        _say(f"running as {deployed.job_id}{resumed}, first checkpoint done")

    table = deployment.table("scored_transactions")
    # Two weeks ago, so the frauds' confirmations (7 days later) are all due by now.
    start = (datetime.now(UTC) - timedelta(days=14)).strftime("%Y-%m-%d")
    _say(
        f"streaming a simulated week (2,000 cards from {start}, 12 bad records) into "
        f"{deployment.transactions_topic} ..."
    )
    seed = int(time.time()) % 1000  # a new seed per run: transaction ids are new (repeated ids are rejected)
    if (
        produce(
            [
                "simulate",
                "--cards",
                "2000",
                "--days",
                "7",
                "--start",
                start,
                "--seed",
                str(seed),
                "--bad-records",
                "12",
                "--bad-every",
                "3000",
                "--quiet",
            ]
        )
        != 0
    ):
        return 1

    _say("waiting for Iceberg to commit them (the job commits every 10 s) ...")
    ours = f"select count(*) from {table} where tx_id like 'sim{seed}-%'"
    deadline, count, stable_since = time.monotonic() + 300, 0, time.monotonic()
    while time.monotonic() < deadline and not (count and time.monotonic() - stable_since > 15):
        time.sleep(3)
        now = trino_query(ours)[0][0]
        if now != count:
            count, stable_since = now, time.monotonic()
    _say(f"{count:,} transactions scored into {settings.get('ICEBERG_CATALOG_NAME')}.{table}")

    print("\nLatest alerts on fraud_alerts:")
    for alert in _last_messages(deployment.alerts_topic, 3):
        reasons = ", ".join(r["code"] for r in alert["reasons"])
        print(
            f"  {alert['tx_id']}  card {alert['card_id']}  {alert['amount']:>9.2f} {alert['currency']}  "
            f"score {alert['score']:.2f}  {reasons}"
        )
    print("\nLatest dead letters on transactions_dlq:")
    for letter in _last_messages(deployment.dlq_topic, 3):
        print(f"  {letter['reason'][:90]}")

    query = (
        f"select decision, count(*) as transactions, round(avg(score), 3) as avg_score "
        f"from {table} where tx_id like 'sim{seed}-%' group by decision order by decision"
    )
    print(f"\nIn Trino ({settings.get('TRINO_URL')}, catalog {settings.get('ICEBERG_CATALOG_NAME')}):\n  {query}")
    for row in trino_query(query):
        print(f"  {row}")
    print(
        f"\nNext: the Airflow UI {settings.get('AIRFLOW_URL')} (fraud_marts builds the marts and the report "
        f"at {settings.get('REPORT_URL')}), the Flink UI {settings.get('FLINK_UI_URL')} (`make credentials` for the logins)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
