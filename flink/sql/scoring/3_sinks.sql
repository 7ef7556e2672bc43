-- 3. Sinks ------------------------------------------------------------------------------------------------
CREATE DATABASE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE};

-- Every scored transaction with its features, score, decision and reasons; one partition per day.
CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.scored_transactions (
  tx_id STRING NOT NULL,
  card_id STRING,
  terminal_id STRING,
  merchant_category STRING,
  channel STRING,
  amount DOUBLE,
  currency STRING,
  event_time TIMESTAMP_LTZ(3),
  lat DOUBLE,
  lon DOUBLE,
  card_tx_count_10m DOUBLE,
  card_tx_count_1h DOUBLE,
  card_tx_count_24h DOUBLE,
  card_tx_count_7d DOUBLE,
  card_tx_count_30d DOUBLE,
  card_amount_sum_1h DOUBLE,
  card_amount_sum_24h DOUBLE,
  card_amount_mean_30d DOUBLE,
  card_amount_std_30d DOUBLE,
  amount_ratio_to_mean_30d DOUBLE,
  amount_zscore_30d DOUBLE,
  card_amount_sum_24h_ratio DOUBLE,
  card_tiny_amount_count_1h DOUBLE,
  seconds_since_prev DOUBLE,
  distance_from_prev_km DOUBLE,
  speed_from_prev_kmh DOUBLE,
  is_new_terminal DOUBLE,
  new_terminal_at_night DOUBLE,
  card_history_count DOUBLE,
  hour_of_day DOUBLE,
  is_night DOUBLE,
  is_weekend DOUBLE,
  terminal_fraud_count_7d DOUBLE,
  terminal_fraud_count_30d DOUBLE,
  card_fraud_count_30d DOUBLE,
  score DOUBLE,
  -- the rules' own score; equals score when no model is configured
  rule_score DOUBLE,
  decision STRING,
  reasons STRING,
  model_version STRING,
  config_version INT,
  kafka_partition INT,
  kafka_offset BIGINT,
  scored_at TIMESTAMP_LTZ(3),
  event_date DATE
) PARTITIONED BY (event_date) WITH (
  'format-version' = '2',
  'write.format.default' = 'parquet',
  'write.parquet.compression-codec' = 'zstd'
);

CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.rejected_transactions (
  topic STRING,
  kafka_partition INT,
  kafka_offset BIGINT,
  kafka_ts TIMESTAMP_LTZ(3),
  reason STRING,
  payload STRING,
  detected_at TIMESTAMP_LTZ(3)
) WITH ('format-version' = '2');

-- Confirmed frauds as they arrive (the labels, days after the transaction).
CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback (
  tx_id STRING NOT NULL,
  card_id STRING,
  terminal_id STRING,
  tx_event_time TIMESTAMP_LTZ(3),
  confirmed_at TIMESTAMP_LTZ(3),
  fraud_pattern STRING,
  amount DOUBLE,
  kafka_partition INT,
  kafka_offset BIGINT,
  -- when the pipeline received it (freshness checks); confirmed_at may be a replay's old time
  ingested_at TIMESTAMP_LTZ(3)
) WITH ('format-version' = '2');

CREATE TEMPORARY TABLE alerts_sink (
  tx_id STRING,
  alert STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${ALERTS_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'key.format' = 'raw',
  'key.fields' = 'tx_id',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY',
  -- See ALERTS_DELIVERY_GUARANTEE in platform.env for the trade-off.
  'sink.delivery-guarantee' = '${ALERTS_DELIVERY_GUARANTEE}',
  'sink.transactional-id-prefix' = '${SCORING_JOB_NAME}-alerts',
  'properties.transaction.timeout.ms' = '900000',
  'properties.linger.ms' = '0'
);

-- The dead-letter topic is transactional: it holds each rejected record exactly once. Its own task
-- (sink.parallelism differs from the job's), so opening and committing transactions at each
-- checkpoint does not hold up scoring.
CREATE TEMPORARY TABLE dead_letter_sink (
  source_key STRING,
  dead_letter STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${DLQ_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'key.format' = 'raw',
  'key.fields' = 'source_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '${SCORING_JOB_NAME}-dead-letters',
  'sink.parallelism' = '1',
  'properties.transaction.timeout.ms' = '900000'
);
