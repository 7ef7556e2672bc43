"""Trains a fraud model on the history the pipeline wrote to Iceberg, and publishes it to S3.

  python -m include.scoring.training --namespace fraud --train-from 2026-10-01 --train-until 2026-10-22 \
      --labels-known-at 2026-10-29 --version v2

Features are the ones the pipeline computed and stored with every score (scored_transactions), so the
model sees in training exactly what it sees in production. Labels are only those confirmed (the
fraud_feedback table) by --labels-known-at: a transaction whose fraud was confirmed later counts as
genuine, as it would have for anyone training the model on that day. Keep --train-until a feedback
delay (7 days) before --labels-known-at to train only on fully labelled days.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from include.scoring.feature_names import FEATURES
from include.scoring.model import Model

MODEL_FEATURES = FEATURES


def training_frame(
    namespace: str, train_from: datetime, train_until: datetime, labels_known_at: datetime
) -> pd.DataFrame:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    from include.lakehouse import iceberg_catalog

    catalog = iceberg_catalog()
    scored = (
        catalog.load_table(f"{namespace}.scored_transactions")
        .scan(
            row_filter=And(
                GreaterThanOrEqual("event_time", train_from.isoformat()),
                LessThan("event_time", train_until.isoformat()),
            ),
            selected_fields=("tx_id", "event_time", *MODEL_FEATURES),
        )
        .to_pandas()
    )
    confirmed = (
        catalog.load_table(f"{namespace}.fraud_feedback")
        .scan(row_filter=LessThan("confirmed_at", labels_known_at.isoformat()), selected_fields=("tx_id",))
        .to_pandas()
    )
    scored["is_fraud"] = scored["tx_id"].isin(set(confirmed["tx_id"])).astype(int)
    return scored.sort_values("event_time", kind="stable")


def fit(frame: pd.DataFrame, seed: int = 7):
    from sklearn.ensemble import HistGradientBoostingClassifier

    estimator = HistGradientBoostingClassifier(
        max_iter=400,
        learning_rate=0.06,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=30,
        random_state=seed,
    )
    matrix = frame[list(MODEL_FEATURES)].astype("float64").to_numpy()
    return estimator.fit(matrix, frame["is_fraud"].to_numpy())


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
    model = Model(version, MODEL_FEATURES, fit(frame))
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
