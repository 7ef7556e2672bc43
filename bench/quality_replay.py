"""Detection quality through the real pipeline: replay a labelled dataset, train a model half way, deploy
it through a savepoint, replay the rest, and measure a test window at the end (the handbook sample: one
week, a feedback delay after the cut-off, as the handbook's protocol; the simulator: two weeks).

  python -m bench.quality_replay handbook    # ../shared/datasets/fraud-handbook sample (61 days)
  python -m bench.quality_replay simulator   # the project's simulator, per fraud pattern

Protocol (the handbook's, in streaming form): labels arrive 7 days after the transaction, on
fraud_feedback. Part 1 is replayed with the rule-based scorer up to the cut-off day. The model is trained
on part 1's stored features, using only confirmations received by the cut-off, and only transactions
at least a feedback delay older than it (fully labelled). The running job is upgraded to the model
through a savepoint; part 2 is replayed. Metrics (include/quality.py) cover the evaluation window at
the end, comparing the model's score with the rules' score stored next to it, under the handbook's
protocol (the cards known compromised before each day left out) and over all cards.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from include import quality, scoring_job, settings
from include.lakehouse import trino_query
from include.scoring import config as scoring_config
from include.scoring.training import train_and_publish
from producer import files
from producer.kafka_writer import KafkaWriter
from producer.simulator import Simulator
from producer.timeline import FEEDBACK, TX, messages

BENCH = Path(__file__).resolve().parent
HANDBOOK = (
    settings.REPO_ROOT.parent / "shared" / "datasets" / "fraud-handbook" / "transactions_2018-04-01_2018-05-31.parquet"
)
DAY = timedelta(days=1)
FEEDBACK_DELAY = quality.FEEDBACK_DELAY  # labels arrive this late on fraud_feedback


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DATASETS = {
    # first day, cut-off (model deployed), evaluation window [from, to); the replay goes on to the data's
    # end, at least a feedback delay past the window, so that every fraud in it is confirmed
    "handbook": dict(  # as the handbook's protocol: one test week after the cut-off and a feedback delay
        first=utc("2018-04-01"),
        cut=utc("2018-05-11"),
        eval_from=utc("2018-05-18"),
        eval_to=utc("2018-05-25"),
        train_from=utc("2018-04-15"),
    ),
    "simulator": dict(
        first=utc("2026-01-01"),
        cut=utc("2026-02-10"),
        eval_from=utc("2026-02-17"),
        eval_to=utc("2026-03-03"),
        train_from=utc("2026-01-15"),
    ),
}


def items(dataset: str, cards: int):
    if dataset == "handbook":
        return files.read_handbook(HANDBOOK)
    days = (DATASETS["simulator"]["eval_to"] - DATASETS["simulator"]["first"]).days
    return Simulator(
        cards, seed=4242, start_ms=int(DATASETS["simulator"]["first"].timestamp() * 1000), days=days
    ).transactions()


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def send(
    deployment: scoring_job.Deployment, dataset: str, cards: int, start: datetime | None, end: datetime | None
) -> int:
    writer = KafkaWriter(
        settings.get("KAFKA_BOOTSTRAP"),
        {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
        progress=True,
    )
    for message in messages(
        items(dataset, cards), int(FEEDBACK_DELAY.total_seconds() * 1000), start_ms=_ms(start), end_ms=_ms(end)
    ):
        writer.send(message)
    summary = writer.close()
    print(f"[quality] {summary}", file=sys.stderr)
    return summary.sent[TX]


def wait_for(deployment: scoring_job.Deployment, expected: int, timeout_s: float = 3600) -> None:
    """Until every transaction sent is in Iceberg, scored or rejected."""
    deadline, count = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        count = sum(
            trino_query(f"select count(*) from {deployment.table(name)}")[0][0]
            for name in ("scored_transactions", "dead_letters")
        )
        if count >= expected:
            return
        time.sleep(10)
    raise SystemExit(f"only {count} of {expected} transactions reached {deployment.namespace} in {timeout_s:.0f} s")


def model_config(model_uri: str, version_bump: int = 1) -> Path:
    raw = yaml.safe_load(scoring_job.DEFAULT_SCORING_CONFIG.read_text())
    raw["version"] = int(raw["version"]) + version_bump
    raw["model"]["uri"] = model_uri
    out = Path(tempfile.mkdtemp()) / "scoring-with-model.yaml"
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def evaluate(deployment: scoring_job.Deployment, window: dict) -> dict:
    """Both scores under both protocols (include/quality.py): the handbook's, leaving out the cards known
    compromised before each day, and all cards."""
    scores = quality.load_scores(deployment.namespace, window["eval_from"], window["eval_to"])
    labels = quality.load_labels(deployment.namespace, None)
    frame = quality.join(scores, labels)
    label = f"{window['eval_from']:%Y-%m-%d}..{window['eval_to'] - DAY:%Y-%m-%d}"
    model = quality.evaluate_both(frame, labels, label)
    rules = quality.evaluate_both(quality.rules_only(frame, scoring_config.load().alert_threshold), labels, label)
    return {"model": asdict(model), "rules": asdict(rules), "model_table": model.table(), "rules_table": rules.table()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality_replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--cards", type=int, default=5000, help="simulator only")
    parser.add_argument("--keep", action="store_true", help="keep the job, topics and tables afterwards")
    args = parser.parse_args(argv)
    window = DATASETS[args.dataset]
    name = f"quality_{args.dataset}"
    deployment = scoring_job.Deployment.named(name)
    deployment.remove()
    deployment.create_topics()
    began = time.monotonic()
    try:
        scoring_job.deploy(deployment)
        part1 = send(deployment, args.dataset, args.cards, None, window["cut"])
        wait_for(deployment, part1)
        version = f"{args.dataset}-{datetime.now(UTC):%Y%m%d%H%M%S}"
        uri = train_and_publish(
            deployment.namespace, window["train_from"], window["cut"] - FEEDBACK_DELAY, window["cut"], version
        )
        upgraded = scoring_job.deploy(deployment, scoring_config=model_config(uri))
        print(f"[quality] model {version} deployed from savepoint {upgraded.savepoint}", file=sys.stderr)
        part2 = send(deployment, args.dataset, args.cards, window["cut"], None)
        wait_for(deployment, part1 + part2)
        result = {
            "dataset": args.dataset,
            "model_uri": uri,
            "transactions": part1 + part2,
            "minutes": round((time.monotonic() - began) / 60, 1),
            **evaluate(deployment, window),
        }
    finally:
        if not args.keep:
            deployment.remove()
    print("model (score):\n" + result["model_table"] + "\nrules only (rule_score):\n" + result["rules_table"])
    out = BENCH / "results" / f"quality-{args.dataset}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"[quality] results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
