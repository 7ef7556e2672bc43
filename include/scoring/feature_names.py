"""The features the scorer computes (features.py), in a fixed order: the model's input, the Iceberg
columns and the job's SQL (generated from this list, verdict_layout.py) and the dbt marts use these
names. Adding a feature: a name here, its computation in features.py, a test."""

FEATURES: tuple[str, ...] = (
    "amount",
    "card_tx_count_10m",
    "card_tx_count_1h",
    "card_tx_count_24h",
    "card_tx_count_7d",
    "card_tx_count_30d",
    "card_amount_sum_1h",
    "card_amount_sum_24h",
    "card_amount_mean_30d",
    "card_amount_std_30d",
    "amount_ratio_to_mean_30d",
    "amount_zscore_30d",
    "card_amount_sum_24h_ratio",
    "card_tiny_amount_count_1h",
    "seconds_since_prev",
    "distance_from_prev_km",
    "speed_from_prev_kmh",
    "is_new_terminal",
    "new_terminal_at_night",
    "card_history_count",
    "hour_of_day",
    "is_night",
    "is_weekend",
    "terminal_fraud_count_7d",
    "terminal_fraud_count_30d",
    "card_fraud_count_30d",
)
