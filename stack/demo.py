"""The demo `make demo` runs once the stack is up: the whole pipeline, end to end, model included.

1. deploys the scoring job (or leaves the running one alone): on a fresh platform it scores with the rules;
2. streams two weeks of simulated history (2,000 cards, frauds confirmed 7 days later, a few bad records);
3. runs the training DAG on it: a model trained on what the job stored, labels known by the cut only; its
   promotion starts a deploy, which the demo approves as a person would in the UI (on a platform whose
   champion stays, the champion is deployed if the job does not run it yet);
4. streams the week after the cut, scored by the model, and shows what came out: alerts, dead letters,
   the week's alert rate, precision and recall against the confirmed frauds, and a query in Trino. It
   fails unless every transaction of that week was scored by the model the deploy ran.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, TopicPartition

from include import airflow_api, kafka_config, model_registry, restore_points, scoring_job, settings
from include.lakehouse import trino_query
from include.scoring import config as scoring_config
from producer.cli import main as produce

CARDS, DAYS, FEEDBACK_DELAY_DAYS = 2_000, 21, 7
# The history ends at CUT, 14 days ago; the demo's last week follows it, so its frauds' confirmations
# (7 days later) are all due by now.
CUT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=14)
HISTORY_START = CUT - timedelta(days=DAYS - 7)
# Cards a day the analysts can review: the model alerts from the score that fits it (scoring.yaml: capacity).
ALERT_BUDGET_CARDS_PER_DAY = 20
TRAINING, DEPLOY = "fraud_model_training", "fraud_scoring_deploy"


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


def _produce(seed: int, *options: str) -> bool:
    """The demo's simulation (the same cards and days every call with this seed), or the part `options`
    select (--until, --from)."""
    start = f"{HISTORY_START:%Y-%m-%d}"
    args = ["simulate", "--cards", str(CARDS), "--days", str(DAYS), "--start", start, "--seed", str(seed)]
    return produce([*args, "--quiet", *options]) == 0


def _wait_until_committed(query: str, what: str) -> int:
    """Until the count `query` returns has stopped growing for 15 s (the job commits every 10 s)."""
    deadline, count, stable_since = time.monotonic() + 300, 0, time.monotonic()
    while time.monotonic() < deadline and not (count and time.monotonic() - stable_since > 15):
        time.sleep(3)
        now = trino_query(query)[0][0]
        if now != count:
            count, stable_since = now, time.monotonic()
    _say(f"{count:,} {what}")
    return count


def _train_and_deploy(deployment: scoring_job.Deployment) -> str | None:
    """The weekly training DAG, run now on the history; the deploy its promotion starts, approved here
    (the UI's Approve, through the REST API); returns the model version the job scores with (None: the
    rules only, no champion)."""
    began = datetime.now(UTC)
    _say("training a model on the history (the fraud_model_training DAG, labels known at the cut) ...")
    params = {
        "labels_known_at": CUT.isoformat(),
        "training_days": 5,
        "evaluation_days": 2,
        "feedback_delay_days": FEEDBACK_DELAY_DAYS,
        "alert_budget_cards_per_day": ALERT_BUDGET_CARDS_PER_DAY,
    }
    run_id = airflow_api.run(TRAINING, params, timeout_s=900)
    trained = airflow_api.result(TRAINING, run_id, "train_challenger")
    judgement = airflow_api.result(TRAINING, run_id, "judge")
    metrics = trained["metrics"]
    _say(
        f"{trained['challenger']['name']}/{trained['challenger']['version']} on {metrics['window']}: "
        f"AUC {metrics['auc_roc']:.3f}, AP {metrics['average_precision']:.3f}, "
        f"CP@100 {metrics['card_precision_at_100']:.3f}; promoted: {judgement['promote']} ({judgement['reason'][:80]})"
    )
    deploys = airflow_api.scheduled_runs_after(DEPLOY, began, "asset_triggered")
    if deploys:
        deploy_id = deploys[0]["dag_run_id"]
        _say(f"approving the deploy the promotion started ({deploy_id}), as the UI's Approve button would ...")
        airflow_api.respond(DEPLOY, deploy_id, "approve", "Approve")
        airflow_api.wait_for_success(DEPLOY, deploy_id)
    champion = model_registry.champion(scoring_config.load().registered_model)
    running = restore_points.last_run(deployment.job_name)["scoring_config"]
    if champion and champion.uri not in running:
        _say(f"deploying the champion {champion.label} ...")
        airflow_api.run(DEPLOY, {"require_approval": False})
    return champion.label if champion else None


def _week_quality(table: str, seed: int) -> str:
    """Prints the week's alert rate, precision and recall; returns the model versions that scored it."""
    feedback = table.replace("scored_transactions", "fraud_feedback")
    [(transactions, alerts, frauds, caught, model)] = trino_query(
        f"with week as (select tx_id, decision, model_version from {table} "
        f"where tx_id like 'sim{seed}-%' and event_time >= timestamp '{CUT:%Y-%m-%d %H:%M:%S} UTC'), "
        f"confirmed as (select distinct tx_id from {feedback} where tx_id like 'sim{seed}-%') "
        "select count(*), count_if(decision = 'ALERT'), count_if(c.tx_id is not null), "
        "count_if(decision = 'ALERT' and c.tx_id is not null), "
        "array_join(array_sort(array_distinct(array_agg(model_version))), ', ') "
        "from week w left join confirmed c on w.tx_id = c.tx_id"
    )
    print(f"\nThe week after the cut, scored by {model}:")
    print(
        f"  {transactions:,} transactions, {alerts:,} alerted ({alerts / max(transactions, 1):.2%}); "
        f"{frauds:,} confirmed frauds, {caught:,} of them alerted"
    )
    print(f"  precision {caught / max(alerts, 1):.2f}, recall {caught / max(frauds, 1):.2f}")
    return model


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
    seed = int(time.time()) % 1000  # a new seed per run: transaction ids are new (repeated ids are rejected)
    ours = f"select count(*) from {table} where tx_id like 'sim{seed}-%'"
    _say(
        f"streaming {DAYS - 7} days of history ({CARDS:,} cards from {HISTORY_START:%Y-%m-%d}, frauds confirmed "
        f"{FEEDBACK_DELAY_DAYS} days later, 12 bad records) into {deployment.transactions_topic} ..."
    )
    if not _produce(seed, "--until", CUT.isoformat(), "--bad-records", "12", "--bad-every", "6000"):
        return 1
    _wait_until_committed(ours, f"transactions scored into {settings.get('ICEBERG_CATALOG_NAME')}.{table}")

    champion = _train_and_deploy(deployment)
    model = champion or "the rules only (no champion)"
    _say(f"streaming the week after the cut ({CUT:%Y-%m-%d}), scored by {model} ...")
    if not _produce(seed, "--from", CUT.isoformat()):
        return 1
    _wait_until_committed(ours, "transactions scored in all")
    confirmed = (
        f"select count(*) from {table.replace('scored_transactions', 'fraud_feedback')} where tx_id like 'sim{seed}-%'"
    )
    _wait_until_committed(confirmed, "frauds confirmed")

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
    scored_by = _week_quality(table, seed)
    if (scored_by != champion) if champion else not re.fullmatch(r"rules-v\d+", scored_by):
        _say(f"the week was scored by {scored_by}, not by the deployed {model}: see the Flink and Airflow UIs")
        return 1

    query = (
        f"select decision, model_version, count(*) as transactions, round(avg(score), 3) as avg_score "
        f"from {table} where tx_id like 'sim{seed}-%' group by 1, 2 order by 2, 1"
    )
    print(f"\nIn Trino ({settings.get('TRINO_URL')}, catalog {settings.get('ICEBERG_CATALOG_NAME')}):\n  {query}")
    for row in trino_query(query):
        print(f"  {row}")
    print(
        f"\nNext: the Airflow UI {settings.get('AIRFLOW_URL')} (fraud_marts builds the marts and the report "
        f"at {settings.get('REPORT_URL')}; fraud_model_training retrains weekly), MLflow "
        f"{settings.get('MLFLOW_TRACKING_URI')}, the Flink UI {settings.get('FLINK_UI_URL')} "
        "(`make credentials` for the logins)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
