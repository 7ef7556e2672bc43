"""One turn of the model lifecycle, as the fraud_model_training DAG runs it:

1. train a challenger on the features the job stored in Iceberg, labelled by what was confirmed by the
   run's `labels_known_at` (include/scoring/training.py), and register it (include/model_registry.py);
2. judge challenger and champion on the most recent fully labelled period by the handbook's protocol
   (include/quality.py: the cards known compromised before each day left out);
3. make the challenger champion only if it beats the champion by the stated margins on Average
   Precision *and* Card Precision@100; otherwise the version records why not.

Everything a run decides from is in its MLflow run: the windows, the Iceberg snapshot ids it read (so the
same sets can be read again), hyperparameters, code and library versions, both models' metrics.
"""

from __future__ import annotations

import math
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata as package_metadata

import numpy as np
import pandas as pd

from include import model_registry, quality, settings
from include.scoring import config as scoring_config
from include.scoring import training
from include.scoring.model import Model

EXPERIMENT = "fraud_model_training"
LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyiceberg", "pyarrow", "mlflow-skinny")
# What the decision is judged on: the handbook protocol's figures.
JUDGED = ("average_precision", "card_precision_at_100")
# Fewer confirmed frauds than this in the training window: nothing worth a model (and the booster's
# early-stopping split needs some of each class).
MIN_TRAINING_FRAUDS = 10
MIN_THRESHOLD = 1e-6  # scoring.yaml's alert_threshold must be above 0


class NotEnoughData(RuntimeError):
    """The windows hold too few confirmed frauds (or nothing else): there is nothing to learn or judge yet."""


@dataclass(frozen=True)
class Margins:
    """How much better than the champion a challenger must be, on each judged metric, to replace it."""

    average_precision: float
    card_precision_at_100: float


@dataclass(frozen=True)
class Judgement:
    promote: bool
    reason: str


def judge(challenger: dict[str, float], champion: dict[str, float] | None, margins: Margins) -> Judgement:
    """`challenger` and `champion`: handbook-protocol metrics (Quality's fields) on the same period."""
    if champion is None:
        return Judgement(True, "no champion yet")
    gains = {name: challenger[name] - champion[name] for name in JUDGED}
    wanted = asdict(margins)
    summary = ", ".join(
        f"{name} {challenger[name]:.4f} vs {champion[name]:.4f} (gain {gains[name]:+.4f}, needs {wanted[name]:+.4f})"
        for name in JUDGED
    )
    short = [name for name in JUDGED if not (gains[name] >= wanted[name])]  # NaN gains fall short too
    if short:
        return Judgement(False, f"not better by the margins on {', '.join(short)}: {summary}")
    return Judgement(True, f"better by the margins: {summary}")


def capacity_threshold(frame: pd.DataFrame, cards_per_day: int) -> float:
    """The score from which about `cards_per_day` cards a day would be alerted on `frame` (card_id,
    event_time, score): each day's `cards_per_day`-th highest card score, the median over days; never
    below MIN_THRESHOLD (a day with fewer cards than the budget would otherwise alert on everything)."""
    daily = frame.groupby([frame["event_time"].dt.date, "card_id"])["score"].max()
    kth = [
        scores.nlargest(cards_per_day).iloc[-1] if len(scores) >= cards_per_day else scores.min()
        for _, scores in daily.groupby(level=0)
    ]
    return max(float(np.median(kth)), MIN_THRESHOLD) if kth else math.nan


def deployed_threshold(capacity: float) -> float:
    """The alert threshold a deploy of this version will use (include/model_registry.py: pin)."""
    config = scoring_config.load()
    return capacity if config.model_threshold_policy == scoring_config.CAPACITY else config.alert_threshold


@dataclass(frozen=True)
class Sets:
    """What one run reads, from pinned Iceberg snapshots."""

    train: pd.DataFrame
    evaluation: pd.DataFrame
    labels: pd.DataFrame  # confirmations known by labels_known_at: tx_id, card_id, confirmed_at, fraud_pattern
    snapshots: dict[str, int | None]


def current_snapshots(namespace: str) -> dict[str, int | None]:
    from pyiceberg.exceptions import NoSuchTableError

    from include.lakehouse import iceberg_catalog

    catalog = iceberg_catalog()
    tables = ("scored_transactions", "fraud_feedback")
    try:
        snapshots = {name: catalog.load_table(f"{namespace}.{name}").current_snapshot() for name in tables}
    except NoSuchTableError as missing:
        raise NotEnoughData(f"{missing}: no scoring job has written to {namespace} yet") from None
    return {name: snapshot.snapshot_id if snapshot else None for name, snapshot in snapshots.items()}


def read_sets(namespace: str, windows: training.Windows, snapshots: dict[str, int | None]) -> Sets:
    from include.lakehouse import iceberg_catalog

    catalog = iceberg_catalog()
    scored = catalog.load_table(f"{namespace}.scored_transactions")
    feedback = training.scan_feedback(catalog.load_table(f"{namespace}.fraud_feedback"), snapshots["fraud_feedback"])
    labels = feedback[feedback["confirmed_at"] < pd.Timestamp(windows.labels_known_at)]
    train, evaluation = (
        training.label(
            training.scan_scored(scored, start, end, snapshots["scored_transactions"]), labels, windows.labels_known_at
        )
        for start, end in ((windows.train_from, windows.train_until), (windows.eval_from, windows.eval_until))
    )
    for name, frame, least in (("training", train, MIN_TRAINING_FRAUDS), ("evaluation", evaluation, 1)):
        frauds = int(frame["is_fraud"].sum()) if len(frame) else 0
        if frauds < least or frauds == len(frame):
            raise NotEnoughData(
                f"the {name} window of {windows.as_params()} holds {len(frame):,} transactions and "
                f"{frauds:,} frauds confirmed by labels_known_at (at least {least} needed): "
                "nothing to learn or judge yet"
            )
    return Sets(train, evaluation, labels, snapshots)


def evaluate(scores: np.ndarray, sets: Sets, alert_threshold: float, window: str) -> quality.Evaluation:
    """A model's `scores` of the evaluation set, under both protocols (decision at `alert_threshold`)."""
    frame = sets.evaluation.assign(score=scores, decision=np.where(scores >= alert_threshold, "ALERT", "PASS"))
    frame = frame.merge(sets.labels[["tx_id", "fraud_pattern"]], on="tx_id", how="left")
    return quality.evaluate_both(frame, sets.labels, window)


def metrics_of(evaluation: quality.Evaluation, prefix: str) -> dict[str, float]:
    """Flat MLflow metrics: <prefix>.<protocol>.<metric> (NaN ones left out: MLflow cannot plot them)."""
    flat = {}
    for protocol, result in (("handbook", evaluation.handbook), ("all_cards", evaluation.all_cards)):
        for name, value in asdict(result).items():
            if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
                flat[f"{prefix}.{protocol}.{name}"] = float(value)
    return flat


def code_version() -> str:
    """The repository's commit (with `-dirty` if files differ from it), or `unknown` outside a checkout."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(settings.REPO_ROOT), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def train_challenger(namespace: str, model_name: str, windows: training.Windows, cards_per_day: int) -> dict:
    """Trains, evaluates and registers a challenger in an MLflow run; returns what the judge needs."""
    from mlflow.entities import Metric, Param, RunTag

    snapshots = current_snapshots(namespace)
    sets = read_sets(namespace, windows, snapshots)
    registry = model_registry.client()
    experiment = registry.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else registry.create_experiment(EXPERIMENT)
    tags = {
        "namespace": namespace,
        "code_version": code_version(),
        **{f"iceberg.{name}.snapshot_id": str(snapshot) for name, snapshot in snapshots.items()},
        **{f"library.{name}": version for name, version in library_versions().items()},
    }
    run = registry.create_run(experiment_id, run_name=f"challenger {windows.labels_known_at:%Y-%m-%d}", tags=tags)
    run_id = run.info.run_id
    try:
        estimator = training.fit(sets.train)
        scores = training.predict(Model("challenger", training.MODEL_FEATURES, estimator), sets.evaluation)
        capacity = capacity_threshold(sets.evaluation.assign(score=scores), cards_per_day)
        alert_threshold = deployed_threshold(capacity)
        evaluation = evaluate(scores, sets, alert_threshold, windows.evaluation_label)
        params = {
            **windows.as_params(),
            **{f"model.{name}": value for name, value in training.HYPERPARAMETERS.items()},
            "model.family": training.MODEL_FAMILY,
            "model.features": ",".join(training.MODEL_FEATURES),
            "alert_threshold": alert_threshold,
            "alert_budget_cards_per_day": cards_per_day,
            "training_transactions": len(sets.train),
            "training_frauds": int(sets.train["is_fraud"].sum()),
            "evaluation_transactions": len(sets.evaluation),
        }
        metrics = {**metrics_of(evaluation, "challenger"), "capacity_alert_threshold": capacity}
        registry.log_batch(
            run_id,
            metrics=[Metric(k, v, 0, 0) for k, v in metrics.items() if not math.isnan(v)],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag("mlflow.note.content", f"Challenger for {model_name}, judged on {windows.evaluation_label}.")],
        )
        metadata = {**params, **tags, **metrics, "mlflow_run_id": run_id}
        ref = model_registry.register(
            model_name, run_id, estimator, training.MODEL_FEATURES, training.baseline(sets.train), metadata
        )
        ref = model_registry.record_capacity_threshold(ref, capacity)
        registry.log_dict(run_id, metadata, "metadata.json")
    except BaseException:
        registry.set_terminated(run_id, "FAILED")
        raise
    return {
        "run_id": run_id,
        "challenger": asdict(ref),
        "snapshots": snapshots,
        "windows": windows.as_params(),
        "metrics": asdict(evaluation.handbook),
    }


def judge_challenger(namespace: str, trained: dict, margins: Margins) -> dict:
    """Evaluates the champion (if any) on the challenger's evaluation set, decides, and records the
    judgement on the challenger's version and run. Returns {promote, reason, champion}."""
    from mlflow.entities import Metric, RunTag

    registry = model_registry.client()
    challenger = model_registry.ModelRef(**trained["challenger"])
    champion = model_registry.champion(challenger.name)
    champion_metrics, metrics = None, {}
    if champion is not None:
        windows = training.Windows(**{k: datetime.fromisoformat(v) for k, v in trained["windows"].items()})
        sets = read_sets(namespace, windows, trained["snapshots"])
        scores = training.predict(model_registry.load(champion), sets.evaluation)
        threshold = deployed_threshold(champion.capacity_threshold or math.nan)
        evaluation = evaluate(scores, sets, threshold, windows.evaluation_label)
        champion_metrics, metrics = asdict(evaluation.handbook), metrics_of(evaluation, "champion")
    judgement = judge(trained["metrics"], champion_metrics, margins)
    registry.log_batch(
        trained["run_id"],
        metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
        tags=[
            RunTag("judgement", judgement.reason),
            RunTag("promoted", str(judgement.promote).lower()),
            RunTag("champion_before", champion.label if champion else "none"),
        ],
    )
    model_registry.record_judgement(challenger, judgement.promote, judgement.reason)
    registry.set_terminated(trained["run_id"], "FINISHED")
    return {**asdict(judgement), "champion_before": champion.label if champion else None}
