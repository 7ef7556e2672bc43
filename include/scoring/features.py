"""Features of one transaction, from the card's prior history and the confirmed-fraud feedback.

Every feature is a float or None (not computable: no history, no location), named and ordered as
feature_names.FEATURES lists them.
"""

from __future__ import annotations

import bisect
import math
import operator

from include.scoring.config import ScoringConfig
from include.scoring.feature_names import FEATURES
from include.scoring.feedback import FeedbackIndex
from include.scoring.history import Prior
from include.transactions import Transaction

_DAY_MS = 86_400_000
_EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def compute(tx: Transaction, prior: Prior, feedback: FeedbackIndex, config: ScoringConfig) -> dict:
    """The features of `tx`; `prior` is the card history it may use (CardHistory.prior)."""
    t, amount = tx.event_ms, tx.amount
    times, amounts = prior.times, prior.amounts
    tiny_amount = config.tiny_amount
    window_30d = config.count_windows_ms.get("30d", config.longest_window_ms)

    # A window of width w holds the entries younger than w: those after the last one at or before t - w.
    # Bisecting the times and summing slices keeps the per-entry work in C.
    starts = {width: bisect.bisect_right(times, t - width) for width in config.all_windows_ms}
    closed = {width: (len(times) - start, sum(amounts[start:])) for width, start in starts.items()}
    start_30d = starts[window_30d]
    in_30d = amounts[start_30d:]
    squares = sum(map(operator.mul, in_30d, in_30d))
    first30 = times[start_30d] if in_30d else None
    tiny = (1 if amount < tiny_amount else 0) + sum(
        1 for value in amounts[bisect.bisect_right(times, t - 3_600_000) :] if value < tiny_amount
    )
    new_terminal = 0.0 if tx.terminal_id in prior.terminals else 1.0
    terminal_id = tx.terminal_id

    n30, s30 = closed[window_30d]
    mean30 = s30 / n30 if n30 else None
    std30 = math.sqrt(max(0.0, squares / n30 - mean30 * mean30)) if n30 >= 2 else None
    zscore = (amount - mean30) / max(std30, 0.25 * mean30, 1.0) if std30 is not None else None
    sum_24h = closed[config.sum_windows_ms["24h"]][1] if "24h" in config.sum_windows_ms else 0.0
    spree = None
    if n30:
        days = min(30.0, max(1.0, (t - first30) / _DAY_MS))
        spree = (sum_24h + amount) / max(s30 / days, 1.0)

    seconds_since_prev = distance = speed = None
    prev = prior.last
    if prev is not None:
        seconds_since_prev = (t - prev.event_ms) / 1000.0
        if tx.lat is not None and prev.lat is not None:
            distance = haversine_km(prev.lat, prev.lon, tx.lat, tx.lon)
            speed = distance / (max(seconds_since_prev, 60.0) / 3600.0)

    hour = (t // 3_600_000) % 24
    night_start, night_end = config.night_hours
    is_night = 1.0 if night_start <= hour < night_end else 0.0
    weekday = (t // _DAY_MS + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    as_of = t - config.feedback_margin_ms
    feedback_7d = config.feedback_windows_ms.get("7d", 7 * _DAY_MS)
    feedback_30d = config.feedback_windows_ms.get("30d", 30 * _DAY_MS)

    features = {"amount": amount}
    for name, width in config.count_windows_ms.items():
        features[f"card_tx_count_{name}"] = float(closed[width][0])
    for name, width in config.sum_windows_ms.items():
        features[f"card_amount_sum_{name}"] = closed[width][1]
    features.update(
        {
            "card_amount_mean_30d": mean30,
            "card_amount_std_30d": std30,
            "amount_ratio_to_mean_30d": amount / mean30 if mean30 else None,
            "amount_zscore_30d": zscore,
            "card_amount_sum_24h_ratio": spree,
            "card_tiny_amount_count_1h": float(tiny),
            "seconds_since_prev": seconds_since_prev,
            "distance_from_prev_km": distance,
            "speed_from_prev_kmh": speed,
            "is_new_terminal": new_terminal,
            "new_terminal_at_night": new_terminal * is_night,
            "card_history_count": float(len(times)),
            "hour_of_day": float(hour),
            "is_night": is_night,
            "is_weekend": 1.0 if weekday >= 5 else 0.0,
            "terminal_fraud_count_7d": float(feedback.terminal_frauds(terminal_id, as_of, feedback_7d)),
            "terminal_fraud_count_30d": float(feedback.terminal_frauds(terminal_id, as_of, feedback_30d)),
            "card_fraud_count_30d": float(feedback.card_frauds(tx.card_id, as_of, feedback_30d)),
        }
    )
    return {name: features.get(name) for name in FEATURES}
