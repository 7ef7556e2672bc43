-- 5. Scoring: the UDF runs once per record; every sink of 6_inserts.sql reads its one result. -----
-- The UDF's one ROW result is all the inner query returns (the Kafka metadata comes back inside it):
-- so every sink's branch starts from the same call, and the planner evaluates it once (a sink needing
-- other source columns next to it would get a copy of the call). tests/integration checks the plan.
-- The result is three arrays (strings, doubles, bigints; cheaper to pass from Python than a column
-- per field, see flink/udf_output.py); here each element gets its name, in the order of the field
-- lists there (tests/unit/test_job_sql.py checks the two agree).
CREATE TEMPORARY VIEW scored AS
SELECT s.strings[1] AS status, s.strings[2] AS tx_id, s.strings[3] AS card_id, s.strings[4] AS terminal_id,
       s.strings[5] AS merchant_category, s.strings[6] AS channel, s.strings[7] AS currency,
       s.strings[8] AS decision, s.strings[9] AS reasons, s.strings[10] AS model_version,
       s.strings[11] AS alert_json, s.strings[12] AS reject_reason, s.strings[13] AS dead_letter_json,

       s.doubles[1] AS amount, s.doubles[2] AS lat, s.doubles[3] AS lon, s.doubles[4] AS score,
       s.doubles[5] AS rule_score, s.doubles[6] AS card_tx_count_10m, s.doubles[7] AS card_tx_count_1h,
       s.doubles[8] AS card_tx_count_24h, s.doubles[9] AS card_tx_count_7d, s.doubles[10] AS card_tx_count_30d,
       s.doubles[11] AS card_amount_sum_1h, s.doubles[12] AS card_amount_sum_24h,
       s.doubles[13] AS card_amount_mean_30d, s.doubles[14] AS card_amount_std_30d,
       s.doubles[15] AS amount_ratio_to_mean_30d, s.doubles[16] AS amount_zscore_30d,
       s.doubles[17] AS card_amount_sum_24h_ratio, s.doubles[18] AS card_tiny_amount_count_1h,
       s.doubles[19] AS seconds_since_prev, s.doubles[20] AS distance_from_prev_km,
       s.doubles[21] AS speed_from_prev_kmh, s.doubles[22] AS is_new_terminal,
       s.doubles[23] AS new_terminal_at_night, s.doubles[24] AS card_history_count,
       s.doubles[25] AS hour_of_day, s.doubles[26] AS is_night, s.doubles[27] AS is_weekend,
       s.doubles[28] AS terminal_fraud_count_7d, s.doubles[29] AS terminal_fraud_count_30d,
       s.doubles[30] AS card_fraud_count_30d,

       -- times are epoch milliseconds (Arrow rows cannot carry TIMESTAMP_LTZ)
       TO_TIMESTAMP_LTZ(s.bigints[1], 3) AS event_time, TO_TIMESTAMP_LTZ(s.bigints[2], 3) AS scored_at,
       CAST(s.bigints[3] AS INT) AS config_version, CAST(s.bigints[4] AS INT) AS kafka_partition,
       s.bigints[5] AS kafka_offset, TO_TIMESTAMP_LTZ(s.bigints[6], 3) AS kafka_ts
FROM (
  SELECT score_transactions(payload, kafka_partition, kafka_offset, kafka_ts) AS s
  FROM transactions_source
);
