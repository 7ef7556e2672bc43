"""Features from history and feedback (include/scoring/features.py)."""

from __future__ import annotations

import pytest

from include.scoring import config as scoring_config
from include.scoring.features import FEATURES, compute, haversine_km
from include.scoring.feedback import Feedback, FeedbackIndex
from include.scoring.history import Entry, Prior
from include.transactions import Transaction

CONFIG = scoring_config.load()
HOUR, DAY = 3_600_000, 86_400_000
T0 = 1_767_312_000_000  # 2026-01-02 00:00 UTC, a Friday


def tx(ms, amount=20.0, terminal="T1", lat=None, lon=None, card="C000000001"):
    return Transaction("now", card, terminal, amount, "EUR", ms, lat=lat, lon=lon)


def hist(*items):
    return Prior.of(
        sorted(
            Entry(ms, f"h{i}", amount, terminal, lat, lon, 0, i)
            for i, (ms, amount, terminal, lat, lon) in enumerate(items)
        )
    )


NO_HISTORY = Prior.of([])


def test_every_feature_is_present_and_named_in_order():
    features = compute(tx(T0), NO_HISTORY, FeedbackIndex(), CONFIG)
    assert tuple(features) == FEATURES


def test_first_transaction_of_a_card_has_no_habit_features():
    f = compute(tx(T0 + 10 * HOUR), NO_HISTORY, FeedbackIndex(), CONFIG)
    assert f["card_tx_count_30d"] == 0 and f["card_amount_mean_30d"] is None
    assert f["amount_ratio_to_mean_30d"] is None and f["seconds_since_prev"] is None
    assert f["is_new_terminal"] == 1.0 and f["card_history_count"] == 0


def test_window_counts_and_sums():
    now = T0 + 20 * DAY
    prior = hist(
        (now - 25 * DAY, 10, "T1", None, None),
        (now - 3 * DAY, 10, "T1", None, None),
        (now - 5 * HOUR, 30, "T2", None, None),
        (now - 30 * 60_000, 40, "T2", None, None),
        (now - 5 * 60_000, 50, "T3", None, None),
        (now - 40 * DAY, 999, "T9", None, None),
    )
    f = compute(tx(now, amount=100, terminal="T3"), prior, FeedbackIndex(), CONFIG)
    assert (f["card_tx_count_10m"], f["card_tx_count_1h"], f["card_tx_count_24h"]) == (1, 2, 3)
    assert (f["card_tx_count_7d"], f["card_tx_count_30d"]) == (4, 5)
    assert (f["card_amount_sum_1h"], f["card_amount_sum_24h"]) == (90, 120)
    assert f["card_amount_mean_30d"] == pytest.approx(28.0)
    assert f["amount_ratio_to_mean_30d"] == pytest.approx(100 / 28)
    assert f["is_new_terminal"] == 0.0 and f["card_history_count"] == 6
    assert f["seconds_since_prev"] == 300


def test_tiny_amount_burst_counts_the_current_one():
    now = T0 + HOUR
    prior = hist(*[(now - k * 60_000, 1.0, "T8", None, None) for k in (3, 2, 1)])
    assert compute(tx(now, amount=0.99), prior, FeedbackIndex(), CONFIG)["card_tiny_amount_count_1h"] == 4


def test_travel_speed_between_paris_and_madrid():
    now = T0 + 12 * HOUR
    prior = hist((now - 30 * 60_000, 20, "T1", 48.857, 2.352))
    f = compute(tx(now, lat=40.417, lon=-3.704), prior, FeedbackIndex(), CONFIG)
    assert f["distance_from_prev_km"] == pytest.approx(haversine_km(48.857, 2.352, 40.417, -3.704))
    assert f["distance_from_prev_km"] == pytest.approx(1053, rel=0.01)
    assert f["speed_from_prev_kmh"] == pytest.approx(f["distance_from_prev_km"] * 2)


def test_time_of_day_features():
    f = compute(tx(T0 + 3 * HOUR), NO_HISTORY, FeedbackIndex(), CONFIG)
    assert (f["hour_of_day"], f["is_night"], f["is_weekend"]) == (3, 1.0, 0.0)
    assert f["new_terminal_at_night"] == 1.0
    assert compute(tx(T0 + DAY + 14 * HOUR), NO_HISTORY, FeedbackIndex(), CONFIG)["is_weekend"] == 1.0


def test_feedback_counts_only_what_was_confirmed_before_the_margin():
    index = FeedbackIndex()
    now = T0 + 40 * DAY
    margin = CONFIG.feedback_margin_ms
    for i, confirmed in enumerate([now - margin - 1, now - margin + 1, now - margin - 10 * DAY, now - 45 * DAY]):
        index.add(Feedback(f"f{i}", "C000000001", "T1", confirmed - 7 * DAY, confirmed))
    f = compute(tx(now), NO_HISTORY, index, CONFIG)
    assert f["terminal_fraud_count_7d"] == 1  # the one just before the margin
    assert f["terminal_fraud_count_30d"] == 2  # plus the one 10 days earlier
    assert f["card_fraud_count_30d"] == 2
    assert index.add(Feedback("f0", "C000000001", "T1", 0, 0)) is False  # same tx confirmed twice


def test_a_window_holds_what_is_strictly_younger_than_its_width():
    now = T0 + 2 * DAY
    prior = hist((now - HOUR, 5, "T1", None, None), (now - HOUR + 1, 7, "T1", None, None))
    f = compute(tx(now), prior, FeedbackIndex(), CONFIG)
    assert (f["card_tx_count_1h"], f["card_amount_sum_1h"]) == (1, 7)
    assert (f["card_tx_count_24h"], f["card_amount_sum_24h"]) == (2, 12)
