"""include/quality.py: the handbook's protocol leaves out cards known compromised before each day."""

from __future__ import annotations

import pandas as pd
import pytest

from include import quality

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2018-05-01", tz="UTC")


def scored(rows: list[tuple[str, str, pd.Timestamp, float, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["tx_id", "card_id", "event_time", "score", "is_fraud"])
    return frame.assign(decision=["ALERT" if s >= 0.5 else "PASS" for s in frame["score"]], fraud_pattern=None)


def labels(rows: list[tuple[str, str, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["tx_id", "card_id", "confirmed_at"]).assign(is_fraud=1, fraud_pattern=None)


def test_a_card_is_left_out_from_the_day_after_its_fraud_was_confirmed():
    confirmed = T0 + 3 * DAY + pd.Timedelta(hours=14)  # confirmed during day 3
    frame = scored(
        [
            ("t2", "A", T0 + 2 * DAY + pd.Timedelta(hours=9), 0.9, 1),
            ("t3", "A", T0 + 3 * DAY + pd.Timedelta(hours=20), 0.9, 1),  # same day, after the confirmation
            ("t4", "A", T0 + 4 * DAY + pd.Timedelta(hours=1), 0.9, 1),
            ("t9", "A", T0 + 9 * DAY, 0.1, 0),
            ("u4", "B", T0 + 4 * DAY, 0.1, 0),
        ]
    )
    known = quality.known_compromised(frame, labels([("f", "A", confirmed)]))
    assert list(frame["tx_id"][known]) == ["t4", "t9"]


def test_the_handbook_delay_excludes_from_delay_plus_one_days_after_the_fraud():
    """A ground-truth label counts as confirmed FEEDBACK_DELAY after the fraud: a fraud on day d leaves
    its card out from day d + 8 on, as the handbook's get_train_test_set does with a 7-day delay."""
    fraud_at = T0 + pd.Timedelta(hours=10)
    confirmed = fraud_at + quality.FEEDBACK_DELAY
    frame = scored([(f"t{d}", "A", T0 + d * DAY + pd.Timedelta(hours=1), 0.2, 0) for d in range(6, 10)])
    known = quality.known_compromised(frame, labels([("f", "A", confirmed)]))
    assert list(frame["tx_id"][known]) == ["t8", "t9"]


def test_the_first_confirmation_of_a_card_counts():
    frame = scored([("t5", "A", T0 + 5 * DAY, 0.2, 0)])
    later, earlier = T0 + 6 * DAY, T0 + 2 * DAY
    assert quality.known_compromised(frame, labels([("f1", "A", later), ("f2", "A", earlier)])).tolist() == [True]


def test_both_protocols_are_reported_and_differ_by_the_known_cards():
    frame = scored(
        [
            ("a1", "A", T0 + 5 * DAY, 0.95, 1),  # card A known compromised since day 2: left out
            ("b1", "B", T0 + 5 * DAY, 0.60, 1),
            ("c1", "C", T0 + 5 * DAY, 0.70, 0),
            ("d1", "D", T0 + 5 * DAY, 0.10, 0),
        ]
    )
    evaluation = quality.evaluate_both(frame, labels([("a0", "A", T0 + 2 * DAY)]), "w")
    assert evaluation.all_cards.transactions == 4 and evaluation.all_cards.frauds == 2
    assert evaluation.handbook.transactions == 3 and evaluation.handbook.frauds == 1
    assert evaluation.all_cards.auc_roc == pytest.approx(0.75)  # A ranks first, B below C
    assert evaluation.handbook.auc_roc == pytest.approx(0.5)
    assert "handbook protocol" in evaluation.table() and "all cards" in evaluation.table()


def test_the_card_precision_ceiling_ranks_perfectly_and_blocks_detected_cards():
    """Card A, detected on day 1, leaves day 2's ranking; so the best possible is one fraudulent card of
    100 on each day, whatever the scores."""
    frame = scored(
        [
            ("a1", "A", T0, 0.1, 1),
            ("b1", "B", T0, 0.9, 0),
            ("a2", "A", T0 + DAY, 0.1, 1),
            ("c2", "C", T0 + DAY, 0.2, 1),
            ("d2", "D", T0 + DAY, 0.3, 0),
        ]
    )
    result = quality.evaluate(frame, "w")
    assert result.card_precision_at_100_ceiling == pytest.approx(0.01)
    assert result.card_precision_at_100 == pytest.approx(0.01)  # all cards fit in the top 100
