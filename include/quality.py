"""Detection quality from the Iceberg tables: how good were the scores the pipeline wrote?

  python -m include.quality [--namespace fraud] [--last-days 14 | --from D --to D] [--labels FILE] [--json]

Labels come from the pipeline's own fraud_feedback table (every confirmed fraud; the rest is genuine),
or from a ground-truth file the producer wrote (--labels, Parquet with tx_id, card_id, event_ms, is_fraud,
fraud_pattern; a fraud there counts as confirmed a feedback delay after it happened).
Metrics, over the transactions of the evaluation window:
  at the alert threshold: precision, recall, F1 (decision = ALERT)
  threshold-free (the Fraud Detection Handbook's): AUC ROC, Average Precision, Card Precision@100
  per fraud pattern: count, recall at the threshold, AUC against the genuine transactions

Twice, under two protocols:
  handbook   the Fraud Detection Handbook's test sets (its get_train_test_set): each day leaves out the
             cards already known to be compromised, a fraud on them confirmed before the day began. Such
             a card would be blocked by then, and its later frauds are the easy ones to score. The
             figure to compare with the handbook's published baselines.
  all cards  every transaction of the window, those cards included (what this module reported before).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

FEEDBACK_DELAY = timedelta(days=7)  # the handbook's: a fraud is confirmed this long after it happened
HANDBOOK, ALL_CARDS = "handbook", "all cards"


@dataclass
class Quality:
    window: str
    transactions: int
    frauds: int
    alerts: int
    precision: float
    recall: float
    f1: float
    auc_roc: float
    average_precision: float
    card_precision_at_100: float
    card_precision_at_100_ceiling: float  # with a perfect ranking: what the window's fraudulent cards allow
    per_pattern: dict[str, dict] = field(default_factory=dict)

    def table(self) -> str:
        lines = [
            f"window {self.window}: {self.transactions:,} transactions, {self.frauds:,} frauds, {self.alerts:,} alerts",
            f"  at threshold   precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}",
            f"  handbook       AUC ROC {self.auc_roc:.3f}  Average Precision {self.average_precision:.3f}  "
            f"Card Precision@100 {self.card_precision_at_100:.3f} (perfect ranking: "
            f"{self.card_precision_at_100_ceiling:.3f})",
        ]
        for pattern, m in sorted(self.per_pattern.items()):
            lines.append(f"  {pattern:<30} {m['frauds']:>6,} frauds  recall {m['recall']:.3f}  AUC {m['auc_roc']:.3f}")
        return "\n".join(lines)


def card_precision_at_k(frame: pd.DataFrame, k: int = 100) -> float:
    """The handbook's Card Precision@k: each day, rank cards by their highest score that day and count
    the share of truly compromised cards among the top k; a card found compromised is blocked, so it
    leaves the ranking of the following days. Averaged over days."""
    detected: set[str] = set()
    daily = []
    for _, day in frame.groupby(frame["event_time"].dt.date):
        day = day[~day["card_id"].isin(detected)]
        cards = day.groupby("card_id").agg(score=("score", "max"), fraud=("is_fraud", "max"))
        top = cards.sort_values("score", ascending=False, kind="stable").head(k)
        daily.append(top["fraud"].sum() / k)
        detected |= set(top.index[top["fraud"] == 1])
    return float(np.mean(daily)) if daily else float("nan")


@dataclass
class Evaluation:
    """One window's quality under both protocols (the module's docstring)."""

    handbook: Quality
    all_cards: Quality

    def table(self) -> str:
        return (
            f"[{HANDBOOK} protocol: cards known compromised before each day left out]\n{self.handbook.table()}\n"
            f"[{ALL_CARDS}]\n{self.all_cards.table()}"
        )


def known_compromised(frame: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    """For each transaction of `frame` (card_id, event_time): whether its card had a fraud confirmed
    before the transaction's day began. `labels`: card_id and confirmed_at of every known fraud.

    The handbook's test day T leaves out the cards with a fraud on day T - delay - 1 or earlier, labels
    arriving `delay` days after the fraud: confirmed by the start of T. Confirmation times (the pipeline's
    fraud_feedback) say the same without assuming the delay."""
    first_confirmed = labels.dropna(subset=["card_id", "confirmed_at"]).groupby("card_id")["confirmed_at"].min()
    day_began = frame["event_time"].dt.floor("D")
    confirmed = frame["card_id"].map(first_confirmed)
    return (confirmed.notna() & (confirmed < day_began)).to_numpy()


def evaluate_both(frame: pd.DataFrame, labels: pd.DataFrame, window: str) -> Evaluation:
    """`frame` as evaluate() takes it; `labels` as load_labels() gives them (for the known cards)."""
    known = known_compromised(frame, labels)
    return Evaluation(handbook=evaluate(frame[~known], window), all_cards=evaluate(frame, window))


def evaluate(frame: pd.DataFrame, window: str) -> Quality:
    """`frame`: one row per transaction with event_time, card_id, score, decision, is_fraud, fraud_pattern."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    y = frame["is_fraud"].astype(int).to_numpy()
    alert = (frame["decision"] == "ALERT").astype(int).to_numpy()
    score = frame["score"].to_numpy()
    both = len(set(y)) == 2
    per_pattern = {}
    genuine = frame[frame["is_fraud"] == 0]
    for pattern, rows in frame[frame["is_fraud"] == 1].groupby(frame["fraud_pattern"].fillna("unknown")):
        subset = pd.concat([rows, genuine])
        per_pattern[pattern] = {
            "frauds": int(len(rows)),
            "recall": float((rows["decision"] == "ALERT").mean()),
            "auc_roc": float(roc_auc_score(subset["is_fraud"], subset["score"])) if len(genuine) else float("nan"),
        }
    return Quality(
        window=window,
        transactions=int(len(frame)),
        frauds=int(y.sum()),
        alerts=int(alert.sum()),
        precision=float(precision_score(y, alert, zero_division=0)),
        recall=float(recall_score(y, alert, zero_division=0)),
        f1=float(f1_score(y, alert, zero_division=0)),
        auc_roc=float(roc_auc_score(y, score)) if both else float("nan"),
        average_precision=float(average_precision_score(y, score)) if both else float("nan"),
        card_precision_at_100=card_precision_at_k(frame, 100),
        card_precision_at_100_ceiling=card_precision_at_k(frame.assign(score=frame["is_fraud"]), 100),
        per_pattern=per_pattern,
    )


def load_scores(namespace: str, start: datetime, end: datetime) -> pd.DataFrame:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    from include.lakehouse import iceberg_catalog

    table = iceberg_catalog().load_table(f"{namespace}.scored_transactions")
    scan = table.scan(
        row_filter=And(GreaterThanOrEqual("event_time", start.isoformat()), LessThan("event_time", end.isoformat())),
        selected_fields=("tx_id", "card_id", "event_time", "score", "rule_score", "decision"),
    )
    return scan.to_pandas()


def rules_only(frame: pd.DataFrame, alert_threshold: float) -> pd.DataFrame:
    """The same transactions judged by the rules' score alone (stored next to a model's score)."""
    return frame.assign(
        score=frame["rule_score"], decision=np.where(frame["rule_score"] >= alert_threshold, "ALERT", "PASS")
    )


def load_labels(namespace: str, labels_file: str | None) -> pd.DataFrame:
    """tx_id, card_id, confirmed_at (UTC), is_fraud (1), fraud_pattern of every known fraud."""
    if labels_file:
        labels = pd.read_parquet(labels_file, columns=["tx_id", "card_id", "event_ms", "is_fraud", "fraud_pattern"])
        labels = labels[labels["is_fraud"].astype(bool)]
        confirmed_at = pd.to_datetime(labels["event_ms"], unit="ms", utc=True) + FEEDBACK_DELAY
        return labels.drop(columns="event_ms").assign(is_fraud=1, confirmed_at=confirmed_at)
    from include.lakehouse import iceberg_catalog

    feedback = (
        iceberg_catalog()
        .load_table(f"{namespace}.fraud_feedback")
        .scan(selected_fields=("tx_id", "card_id", "confirmed_at", "fraud_pattern"))
        .to_pandas()
    )
    # a confirmation delivered twice (a replay) counts from its first time
    return feedback.sort_values("confirmed_at").drop_duplicates("tx_id").assign(is_fraud=1)


def join(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    frame = scores.merge(labels[["tx_id", "is_fraud", "fraud_pattern"]], on="tx_id", how="left")
    frame["is_fraud"] = frame["is_fraud"].fillna(0).astype(int)
    return frame


def _window(args: argparse.Namespace, namespace: str) -> tuple[datetime, datetime]:
    if args.from_date and args.to_date:
        return (
            datetime.combine(args.from_date, datetime.min.time(), UTC),
            datetime.combine(args.to_date, datetime.min.time(), UTC),
        )
    from include.lakehouse import trino_query

    last = trino_query(f"select max(event_time) from {namespace}.scored_transactions")[0][0]
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), UTC)
    return end - timedelta(days=args.last_days), end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.quality", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespace", default=None, help="Iceberg namespace (default: the platform's)")
    parser.add_argument("--last-days", type=int, default=14, help="evaluate the last N days of data")
    parser.add_argument("--from", dest="from_date", type=date.fromisoformat)
    parser.add_argument("--to", dest="to_date", type=date.fromisoformat, help="exclusive")
    parser.add_argument("--labels", help="ground-truth Parquet (tx_id, is_fraud, fraud_pattern)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from include import settings

    namespace = args.namespace or settings.get("ICEBERG_NAMESPACE")
    start, end = _window(args, namespace)
    labels = load_labels(namespace, args.labels)
    frame = join(load_scores(namespace, start, end), labels)
    if frame.empty:
        print(f"no scored transactions in {namespace} between {start:%Y-%m-%d} and {end:%Y-%m-%d}", file=sys.stderr)
        return 1
    evaluation = evaluate_both(frame, labels, f"{start:%Y-%m-%d}..{end - timedelta(days=1):%Y-%m-%d}")
    print(json.dumps(asdict(evaluation), indent=2) if args.json else evaluation.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
