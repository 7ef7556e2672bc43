"""Trains a fraud model on the history the pipeline wrote to Iceberg.

  python -m include.scoring.training --namespace fraud --train-from 2026-10-01 --train-until 2026-10-22 \
      --labels-known-at 2026-10-29 --version v2

Features are the ones the pipeline computed and stored with every score (scored_transactions), so the
model sees in training exactly what it sees in production. Labels are only those confirmed (the
fraud_feedback table) by `labels_known_at`: a transaction whose fraud was confirmed later counts as
genuine, as it would have for anyone training the model on that day. Keep the training window a feedback
delay (7 days) before `labels_known_at` to train only on fully labelled days (Windows does).

The CLI publishes to S3 without a registry (bench/quality_replay.py uses it); the fraud_model_training
DAG trains through the same functions and registers the result in MLflow (include/model_registry.py).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from include.scoring.feature_names import FEATURES
from include.scoring.model import Model

MODEL_FEATURES = FEATURES
HYPERPARAMETERS = {
    "max_iter": 400,
    "learning_rate": 0.06,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.15,
    "n_iter_no_change": 30,
}
MODEL_FAMILY = "sklearn.ensemble.HistGradientBoostingClassifier"


@dataclass(frozen=True)
class Windows:
    """The periods one training run reads, all derived from the day its labels are known (`labels_known_at`):

      [train_from, train_until)  training transactions, labelled by what was confirmed by labels_known_at
      [eval_from, eval_until)    the most recent fully labelled period: ends a feedback delay before
                                 labels_known_at, so every fraud in it has had the delay to be confirmed

    The evaluation period follows the training one directly: neither model being judged saw its rows."""

    train_from: datetime
    train_until: datetime
    eval_from: datetime
    eval_until: datetime
    labels_known_at: datetime

    @classmethod
    def ending(cls, labels_known_at: datetime, training_days: int, evaluation_days: int, feedback_delay_days: int):
        eval_until = labels_known_at - timedelta(days=feedback_delay_days)
        eval_from = eval_until - timedelta(days=evaluation_days)
        return cls(eval_from - timedelta(days=training_days), eval_from, eval_from, eval_until, labels_known_at)

    @property
    def evaluation_label(self) -> str:
        """The evaluation days, first and last (inclusive)."""
        return f"{self.eval_from:%Y-%m-%d}..{self.eval_until - timedelta(days=1):%Y-%m-%d}"

    def as_params(self) -> dict[str, str]:
        return {name: moment.isoformat() for name, moment in vars(self).items()}


def label(scored: pd.DataFrame, feedback: pd.DataFrame, labels_known_at: datetime) -> pd.DataFrame:
    """`scored` with is_fraud: 1 where a confirmation of its tx_id in `feedback` (tx_id, confirmed_at)
    arrived before `labels_known_at`; a fraud confirmed later is genuine for this training, as it was for
    anyone training on that day."""
    known = feedback.loc[feedback["confirmed_at"] < pd.Timestamp(labels_known_at), "tx_id"]
    return scored.assign(is_fraud=scored["tx_id"].isin(set(known)).astype(int))


def first_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per tx_id, the first scored: a rollback's replay may have written a transaction twice
    (the marts' stg_scored_transactions keeps the same one)."""
    order = [c for c in ("scored_at", "kafka_partition", "kafka_offset") if c in scored.columns]
    return scored.sort_values(order, kind="stable").drop_duplicates("tx_id") if order else scored


def fit(frame: pd.DataFrame, seed: int = 7):
    from sklearn.ensemble import HistGradientBoostingClassifier

    estimator = HistGradientBoostingClassifier(**HYPERPARAMETERS, random_state=seed)
    matrix = frame[list(MODEL_FEATURES)].astype("float64").to_numpy()
    return estimator.fit(matrix, frame["is_fraud"].to_numpy())


def baseline(frame: pd.DataFrame) -> dict[str, float]:
    """Each feature's median over the genuine transactions of `frame` (Model.baseline); features never
    present are left out."""
    medians = frame.loc[frame["is_fraud"] == 0, list(MODEL_FEATURES)].astype("float64").median()
    return {name: float(value) for name, value in medians.items() if not np.isnan(value)}


def predict(model: Model, frame: pd.DataFrame) -> np.ndarray:
    """The model's fraud probability for each row of `frame` (its stored feature columns), as the scorer
    computes it: a feature the frame lacks (a model trained on another feature set) is missing (NaN)."""
    missing = np.full(len(frame), np.nan)
    matrix = np.column_stack(
        [frame[name].astype("float64").to_numpy() if name in frame.columns else missing for name in model.feature_names]
    )
    return model.estimator.predict_proba(matrix)[:, 1]


def training_frame(
    namespace: str, train_from: datetime, train_until: datetime, labels_known_at: datetime
) -> pd.DataFrame:
    """The CLI's training set, read from the tables' current snapshots."""
    from include.lakehouse import iceberg_catalog

    catalog = iceberg_catalog()
    scored = scan_scored(catalog.load_table(f"{namespace}.scored_transactions"), train_from, train_until)
    feedback = scan_feedback(catalog.load_table(f"{namespace}.fraud_feedback"))
    return label(scored, feedback, labels_known_at)


def scan_scored(table, start: datetime, end: datetime, snapshot_id: int | None = None) -> pd.DataFrame:
    """Transactions with event_time in [start, end) and their stored features, first scores only, in time order."""
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    scan = table.scan(
        row_filter=And(GreaterThanOrEqual("event_time", start.isoformat()), LessThan("event_time", end.isoformat())),
        selected_fields=(
            "tx_id",
            "card_id",
            "event_time",
            "scored_at",
            "kafka_partition",
            "kafka_offset",
            *MODEL_FEATURES,
        ),
        snapshot_id=snapshot_id,
    )
    return first_scores(scan.to_pandas()).sort_values("event_time", kind="stable").reset_index(drop=True)


def scan_feedback(table, snapshot_id: int | None = None) -> pd.DataFrame:
    """Every confirmed fraud (tx_id, card_id, confirmed_at, fraud_pattern), each once, from its first confirmation."""
    scan = table.scan(selected_fields=("tx_id", "card_id", "confirmed_at", "fraud_pattern"), snapshot_id=snapshot_id)
    return scan.to_pandas().sort_values("confirmed_at", kind="stable").drop_duplicates("tx_id")


def holdout_metrics(frame: pd.DataFrame, share: float = 0.2) -> dict:
    """Train on the earlier part, measure on the last `share` of the window (in time)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    cut = int(len(frame) * (1 - share))
    early, late = frame.iloc[:cut], frame.iloc[cut:]
    if late["is_fraud"].nunique() < 2:
        return {}
    scores = fit(early).predict_proba(late[list(MODEL_FEATURES)].astype("float64").to_numpy())[:, 1]
    return {
        "holdout_auc_roc": float(roc_auc_score(late["is_fraud"], scores)),
        "holdout_average_precision": float(average_precision_score(late["is_fraud"], scores)),
    }


def train_and_publish(
    namespace: str, train_from: datetime, train_until: datetime, labels_known_at: datetime, version: str
) -> str:
    from include import aws, settings
    from include.scoring import model as model_store

    frame = training_frame(namespace, train_from, train_until, labels_known_at)
    if frame["is_fraud"].nunique() < 2:
        raise SystemExit("the training window has no confirmed fraud (or nothing else): nothing to learn")
    metadata = {
        "namespace": namespace,
        "train_from": train_from.isoformat(),
        "train_until": train_until.isoformat(),
        "labels_known_at": labels_known_at.isoformat(),
        "transactions": int(len(frame)),
        "frauds": int(frame["is_fraud"].sum()),
        "trained_at": datetime.now(UTC).isoformat(),
        **holdout_metrics(frame),
    }
    model = Model(version, MODEL_FEATURES, fit(frame), baseline(frame))
    uri = f"s3://{settings.get('ICEBERG_WAREHOUSE_BUCKET')}/models/fraud/{version}"
    sha256 = model_store.save(model, metadata, uri, aws.s3_client())
    print(f"[training] {metadata} sha256={sha256}", file=sys.stderr)
    return uri


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.scoring.training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--train-from", type=date.fromisoformat, required=True)
    parser.add_argument("--train-until", type=date.fromisoformat, required=True, help="exclusive")
    parser.add_argument("--labels-known-at", type=date.fromisoformat, required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    print(
        train_and_publish(
            args.namespace, _utc(args.train_from), _utc(args.train_until), _utc(args.labels_known_at), args.version
        )
    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
