-- 5. Scoring: the UDF runs once per record; every sink of 6_inserts.sql reads its one result. -----
-- The UDF's one ROW result is all the inner query returns (the Kafka metadata comes back inside it):
-- so every sink's branch starts from the same call, and the planner evaluates it once (a sink needing
-- other source columns next to it would get a copy of the call). tests/integration checks the plan.
-- The features come back as one array, in the order of flink/udfs.py FEATURE_COLUMNS (cheaper to pass
-- from Python than a column each); here each gets its name.
CREATE TEMPORARY VIEW scored AS
SELECT s.*, TO_TIMESTAMP_LTZ(s.event_ms, 3) AS event_time, TO_TIMESTAMP_LTZ(s.scored_ms, 3) AS scored_at,
       TO_TIMESTAMP_LTZ(s.kafka_ms, 3) AS kafka_ts,
       s.features[1] AS card_tx_count_10m, s.features[2] AS card_tx_count_1h,
       s.features[3] AS card_tx_count_24h, s.features[4] AS card_tx_count_7d,
       s.features[5] AS card_tx_count_30d, s.features[6] AS card_amount_sum_1h,
       s.features[7] AS card_amount_sum_24h, s.features[8] AS card_amount_mean_30d,
       s.features[9] AS card_amount_std_30d, s.features[10] AS amount_ratio_to_mean_30d,
       s.features[11] AS amount_zscore_30d, s.features[12] AS card_amount_sum_24h_ratio,
       s.features[13] AS card_tiny_amount_count_1h, s.features[14] AS seconds_since_prev,
       s.features[15] AS distance_from_prev_km, s.features[16] AS speed_from_prev_kmh,
       s.features[17] AS is_new_terminal, s.features[18] AS new_terminal_at_night,
       s.features[19] AS card_history_count, s.features[20] AS hour_of_day, s.features[21] AS is_night,
       s.features[22] AS is_weekend, s.features[23] AS terminal_fraud_count_7d,
       s.features[24] AS terminal_fraud_count_30d, s.features[25] AS card_fraud_count_30d
FROM (
  SELECT score_transactions(payload, kafka_partition, kafka_offset, kafka_ts) AS s
  FROM transactions_source
);
