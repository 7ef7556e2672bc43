"""The training DAG's decisions, on frames built here: which labels a run may see, which periods it
reads, when a challenger replaces the champion, the alert threshold that fits an analyst budget, and the
config a deploy pins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml

from include.model_lifecycle import Margins, capacity_threshold, judge
from include.scoring import training

KNOWN_AT = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_label_confirmed_after_labels_known_at_is_not_used():
    scored = pd.DataFrame({"tx_id": ["early", "on_the_dot", "late", "never"]})
    feedback = pd.DataFrame(
        {
            "tx_id": ["early", "on_the_dot", "late"],
            "confirmed_at": pd.to_datetime(
                [KNOWN_AT - timedelta(seconds=1), KNOWN_AT, KNOWN_AT + timedelta(days=3)], utc=True
            ),
        }
    )
    labelled = training.label(scored, feedback, KNOWN_AT)
    assert dict(zip(labelled["tx_id"], labelled["is_fraud"], strict=True)) == {
        "early": 1,
        "on_the_dot": 0,  # confirmed at that very moment: not yet known
        "late": 0,
        "never": 0,
    }


def test_the_windows_end_a_feedback_delay_before_the_labels_and_do_not_overlap():
    windows = training.Windows.ending(KNOWN_AT, training_days=21, evaluation_days=7, feedback_delay_days=7)
    assert windows.eval_until == KNOWN_AT - timedelta(days=7)
    assert windows.eval_from == windows.eval_until - timedelta(days=7) == windows.train_until
    assert windows.train_from == windows.train_until - timedelta(days=21)
    assert windows.evaluation_label == "2026-02-15..2026-02-21"


def test_the_first_score_of_a_transaction_counts():
    scored = pd.DataFrame(
        {
            "tx_id": ["a", "a", "b"],
            "scored_at": pd.to_datetime(["2026-01-02", "2026-01-01", "2026-01-01"], utc=True),
            "kafka_partition": [0, 0, 1],
            "kafka_offset": [5, 9, 1],
            "amount": [2.0, 1.0, 3.0],
        }
    )
    first = training.first_scores(scored).set_index("tx_id")["amount"].to_dict()
    assert first == {"a": 1.0, "b": 3.0}


METRICS = {"average_precision": 0.70, "card_precision_at_100": 0.25}
MARGINS = Margins(average_precision=0.01, card_precision_at_100=0.01)


def test_a_model_is_judged_on_the_scores_the_job_would_give():
    """The evaluation scores stored feature columns (training.predict), the job scores feature dicts
    (Model.predict): the same rows give the same scores, a missing value and a feature the table lacks
    alike (NaN)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from include.scoring.model import Model

    rng = np.random.default_rng(5)
    names = ("amount", "card_tx_count_1h", "terminal_fraud_ratio_7d")
    matrix = rng.uniform(0, 10, (500, 3))
    matrix[rng.random((500, 3)) < 0.1] = np.nan
    estimator = HistGradientBoostingClassifier(max_iter=20, random_state=1).fit(matrix, matrix[:, 0] > 7)
    model = Model("m/1", names, estimator)
    frame = pd.DataFrame(matrix[:50, :2], columns=list(names[:2]))  # the table lacks the third feature
    rows = [
        {name: (None if np.isnan(v) else v) for name, v in zip(names[:2], row[:2], strict=True)} for row in matrix[:50]
    ]
    np.testing.assert_array_equal(training.predict(model, frame), model.predict(rows))


def test_a_first_challenger_is_promoted():
    assert judge(METRICS, None, MARGINS).promote


@pytest.mark.parametrize(
    ("challenger", "promote", "short"),
    [
        ({"average_precision": 0.72, "card_precision_at_100": 0.27}, True, None),
        ({"average_precision": 0.70, "card_precision_at_100": 0.25}, False, "average_precision, card_precision"),
        ({"average_precision": 0.72, "card_precision_at_100": 0.255}, False, "card_precision_at_100"),
        ({"average_precision": 0.705, "card_precision_at_100": 0.30}, False, "average_precision"),
        ({"average_precision": float("nan"), "card_precision_at_100": 0.30}, False, "average_precision"),
    ],
)
def test_a_challenger_replaces_the_champion_only_when_better_by_both_margins(challenger, promote, short):
    judgement = judge(challenger, METRICS, MARGINS)
    assert judgement.promote is promote
    assert ("not better by the margins on " + short in judgement.reason) if short else "better by" in judgement.reason


def test_the_capacity_threshold_alerts_about_the_budget_of_cards_a_day():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-01", periods=5, freq="D", tz="UTC")
    frame = pd.DataFrame(
        {
            "event_time": np.repeat(days, 2000) + pd.to_timedelta(rng.integers(0, 86_000, 10_000), unit="s"),
            "card_id": rng.integers(0, 1500, 10_000).astype(str),
            "score": rng.random(10_000),
        }
    )
    threshold = capacity_threshold(frame, cards_per_day=100)
    daily = frame[frame["score"] >= threshold].groupby(frame["event_time"].dt.date)["card_id"].nunique()
    assert 90 <= daily.mean() <= 110


def _pinned_config(ref, directory):
    from include import model_registry
    from include.scoring import config as scoring_config

    raw = yaml.safe_load(scoring_config.DEFAULT_PATH.read_text())
    text = model_registry.pinned_to(raw, "models:/fraud@champion", ref)
    path = directory / "pinned.yaml"
    path.write_text(text)
    return text, scoring_config.load(path)


def test_a_pinned_config_names_one_version_and_alerts_from_its_capacity_threshold(tmp_path):
    from include.model_registry import ModelRef

    ref = ModelRef("fraud", "3", "s3://models/fraud/run3", "ab" * 32, capacity_threshold=0.0421)
    text, pinned = _pinned_config(ref, tmp_path)
    assert text.startswith("# Pinned by the deploy: models:/fraud@champion = fraud/3")
    assert (pinned.model_uri, pinned.model_sha256) == (ref.uri, ref.sha256)
    assert pinned.alert_threshold == 0.0421 and pinned.model_threshold_policy == "capacity"


def test_with_no_champion_the_pinned_config_scores_with_the_rules_at_their_threshold(tmp_path):
    from include.scoring import config as scoring_config

    _, pinned = _pinned_config(None, tmp_path)
    assert pinned.model_uri is None
    assert pinned.alert_threshold == scoring_config.load().alert_threshold


def test_a_version_without_a_capacity_threshold_is_refused_under_the_capacity_policy(tmp_path):
    from include.model_registry import ModelRef, RegistryError

    with pytest.raises(RegistryError, match="capacity"):
        _pinned_config(ModelRef("fraud", "1", "s3://models/fraud/run1", "cd" * 32), tmp_path)
