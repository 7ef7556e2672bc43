"""An alert scored by a model names the features that raised its score (include/scoring/model.py:
Model.contributions), measured against a typical genuine transaction, and the baselines travel with the
published model."""

from __future__ import annotations

import numpy as np
import pytest

from include.scoring import config as scoring_config
from include.scoring.feedback import FeedbackIndex
from include.scoring.model import Model
from include.scoring.scorer import ALERT, BatchScorer, SourceRecord
from include.transactions import Transaction, encode
from tests.unit.scoring_fakes import InMemoryS3, MemoryCardStore

FEATURES = ("amount", "hour_of_day", "card_tx_count_1h")


@pytest.fixture(scope="module")
def model() -> Model:
    """Fraud when the amount is high; the hour and the count are noise."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    amount = rng.uniform(1, 1000, 4000)
    matrix = np.column_stack([amount, rng.integers(0, 24, 4000), rng.integers(0, 5, 4000)])
    estimator = HistGradientBoostingClassifier(max_iter=50, random_state=1).fit(matrix, (amount > 800).astype(int))
    return Model("test/1", FEATURES, estimator, {"amount": 40.0, "hour_of_day": 13.0, "card_tx_count_1h": 1.0})


def test_the_feature_that_makes_the_score_comes_first(model):
    features = {"amount": 950.0, "hour_of_day": 3.0, "card_tx_count_1h": 2.0}
    score = float(model.predict([features])[0])
    [named] = model.contributions([features], [score])
    assert score > 0.9 and named[0][0] == "amount" and named[0][1] > 0.8
    assert all(drop > 0 for _, drop in named) and len(named) <= 3


def test_a_typical_transaction_has_no_model_reason(model):
    features = {"amount": 40.0, "hour_of_day": 13.0, "card_tx_count_1h": 1.0}
    assert model.contributions([features], [float(model.predict([features])[0])]) == [[]]


def test_a_model_without_baselines_names_no_feature(model):
    bare = Model(model.version, model.feature_names, model.estimator)
    assert bare.contributions([{"amount": 950.0}], [0.99]) == [[]]


def test_each_row_of_a_batch_gets_its_own_reasons(model):
    rows = [
        {"amount": 950.0, "hour_of_day": 3.0, "card_tx_count_1h": 2.0},
        {"amount": 40.0, "hour_of_day": 13.0, "card_tx_count_1h": 1.0},
        {"amount": 990.0, "hour_of_day": 13.0, "card_tx_count_1h": 1.0},
    ]
    scores = model.predict(rows).tolist()
    batch = model.contributions(rows, scores)
    assert batch == [model.contributions([row], [score])[0] for row, score in zip(rows, scores, strict=True)]
    assert batch[0][0][0] == batch[2][0][0] == "amount" and batch[1] == []


def test_an_alert_carries_the_rules_reasons_and_the_models(model):
    config = scoring_config.load()
    tx = Transaction("tx-big", "C000000001", "T1", 950.0, "EUR", 1_767_312_000_000)
    record = SourceRecord(encode(tx), partition=0, offset=0, kafka_ms=tx.event_ms, key=tx.card_id.encode())
    [result] = BatchScorer(config, MemoryCardStore(), FeedbackIndex(), model=model).score_batch([record])
    assert result.decision == ALERT
    codes = [reason["code"] for reason in result.reasons]
    assert "HIGH_AMOUNT" in codes  # the rule still gives its reason
    model_reasons = [reason for reason in result.reasons if reason["code"] == "MODEL_FEATURE"]
    assert model_reasons[0]["feature"] == "amount" and model_reasons[0]["value"] == 950.0
    assert '"MODEL_FEATURE"' in result.alert_json(model.version, config.version)


def test_the_baselines_are_published_with_the_model(model):
    from include.scoring import model as model_store

    s3 = InMemoryS3()
    uri = "s3://models/test/run1"
    sha256 = model_store.save(model, {}, uri, s3)
    assert model_store.load(uri, s3, sha256).baseline == model.baseline
