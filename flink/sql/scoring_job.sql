-- The fraud scoring job: one statement set, so all sinks share one consistent checkpoint.
-- Run by flink/sql_runner.py after catalog.sql; ${NAME} comes from include/config/platform.env.
--
--   credit_card_transactions --> score_transactions (Python UDF, once per record)
--        |-- scored  --> lakehouse.fraud.scored_transactions   (Iceberg, committed on checkpoints)
--        |-- ALERT   --> fraud_alerts                           (Kafka, key tx_id)
--        '-- rejected --> transactions_dlq + lakehouse.fraud.rejected_transactions
--   fraud_feedback --> lakehouse.fraud.fraud_feedback (malformed feedback --> transactions_dlq)

-- 1. Job configuration -----------------------------------------------------------------------------------
SET 'pipeline.name' = 'fraud-scoring';
SET 'parallelism.default' = '1';
SET 'table.local-time-zone' = 'UTC';
-- Iceberg commits and Kafka transactions happen on checkpoints: this is also the freshness of the table.
SET 'execution.checkpointing.interval' = '10s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'execution.checkpointing.min-pause' = '2s';
SET 'execution.checkpointing.timeout' = '5min';
SET 'restart-strategy.type' = 'exponential-delay';
SET 'restart-strategy.exponential-delay.initial-backoff' = '2s';
SET 'restart-strategy.exponential-delay.max-backoff' = '1min';
-- Python batches: the UDF sees up to 2,000 records at once, or what 100 ms brought (alert latency).
SET 'python.fn-execution.arrow.batch.size' = '2000';
SET 'python.fn-execution.bundle.size' = '2000';
SET 'python.fn-execution.bundle.time' = '100';

CREATE TEMPORARY FUNCTION score_transactions AS 'flink.udfs.score_transactions' LANGUAGE PYTHON;

-- 2. Sources ----------------------------------------------------------------------------------------------
-- The raw value is kept as a string: the UDF validates it, so bad input is dead-lettered, never dropped.
-- Event time is the record timestamp, which the producer sets to the transaction's event_time.
CREATE TEMPORARY TABLE transactions_source (
  payload STRING,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR kafka_ts AS kafka_ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${TRANSACTIONS_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'fraud-scoring',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

CREATE TEMPORARY TABLE feedback_source (
  payload STRING,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR kafka_ts AS kafka_ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${FEEDBACK_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'fraud-feedback-to-iceberg',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

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
  kafka_offset BIGINT
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
  'sink.transactional-id-prefix' = 'fraud-alerts',
  'properties.transaction.timeout.ms' = '900000',
  'properties.linger.ms' = '0'
);

-- The dead-letter topic is transactional: it holds each rejected record exactly once.
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
  'sink.transactional-id-prefix' = 'fraud-dead-letters',
  'properties.transaction.timeout.ms' = '900000'
);

-- 4. Scoring: the UDF runs once per record; every sink below reads its one result. --------------------
CREATE TEMPORARY VIEW scored AS
SELECT s.*, TO_TIMESTAMP_LTZ(s.event_ms, 3) AS event_time, TO_TIMESTAMP_LTZ(s.scored_ms, 3) AS scored_at,
       kafka_partition, kafka_offset, kafka_ts
FROM (
  SELECT score_transactions(payload, kafka_partition, kafka_offset, kafka_ts) AS s,
         kafka_partition, kafka_offset, kafka_ts
  FROM transactions_source
);

-- Feedback parsed in SQL; a record missing any of these is dead-lettered.
CREATE TEMPORARY VIEW feedback_parsed AS
SELECT
  JSON_VALUE(payload, '$.tx_id') AS tx_id,
  JSON_VALUE(payload, '$.card_id') AS card_id,
  JSON_VALUE(payload, '$.terminal_id') AS terminal_id,
  TRY_CAST(REPLACE(REPLACE(JSON_VALUE(payload, '$.tx_event_time'), 'T', ' '), 'Z', '') AS TIMESTAMP(3)) AS tx_event_time,
  TRY_CAST(REPLACE(REPLACE(JSON_VALUE(payload, '$.confirmed_at'), 'T', ' '), 'Z', '') AS TIMESTAMP(3)) AS confirmed_at,
  JSON_VALUE(payload, '$.fraud_pattern') AS fraud_pattern,
  TRY_CAST(JSON_VALUE(payload, '$.amount') AS DOUBLE) AS amount,
  payload, kafka_partition, kafka_offset, kafka_ts
FROM feedback_source;

-- 5. The statement set --------------------------------------------------------------------------------------
INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.scored_transactions
SELECT tx_id, card_id, terminal_id, merchant_category, channel, amount, currency, event_time, lat, lon,
       card_tx_count_10m, card_tx_count_1h, card_tx_count_24h, card_tx_count_7d, card_tx_count_30d,
       card_amount_sum_1h, card_amount_sum_24h, card_amount_mean_30d, card_amount_std_30d,
       amount_ratio_to_mean_30d, amount_zscore_30d, card_amount_sum_24h_ratio, card_tiny_amount_count_1h,
       seconds_since_prev, distance_from_prev_km, speed_from_prev_kmh, is_new_terminal, new_terminal_at_night,
       card_history_count, hour_of_day, is_night, is_weekend,
       terminal_fraud_count_7d, terminal_fraud_count_30d, card_fraud_count_30d,
       score, decision, reasons, model_version, config_version, kafka_partition, kafka_offset, scored_at,
       CAST(event_time AS DATE) AS event_date
FROM scored
WHERE status = 'scored';

INSERT INTO alerts_sink
SELECT tx_id, alert_json FROM scored WHERE status = 'scored' AND decision = 'ALERT';

-- One INSERT for both kinds of dead letters: one transactional Kafka sink per topic.
INSERT INTO dead_letter_sink
SELECT CONCAT('${TRANSACTIONS_TOPIC}-', CAST(kafka_partition AS STRING), '-', CAST(kafka_offset AS STRING)),
       dead_letter_json
FROM scored
WHERE status = 'rejected'
UNION ALL
SELECT CONCAT('${FEEDBACK_TOPIC}-', CAST(kafka_partition AS STRING), '-', CAST(kafka_offset AS STRING)),
       JSON_OBJECT(
         KEY 'reason' VALUE 'invalid_feedback: a required field is missing or malformed',
         KEY 'topic' VALUE '${FEEDBACK_TOPIC}',
         KEY 'partition' VALUE kafka_partition,
         KEY 'offset' VALUE kafka_offset,
         KEY 'payload' VALUE payload)
FROM feedback_parsed
WHERE tx_id IS NULL OR card_id IS NULL OR terminal_id IS NULL
   OR tx_event_time IS NULL OR confirmed_at IS NULL;

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.rejected_transactions
SELECT '${TRANSACTIONS_TOPIC}', kafka_partition, kafka_offset, kafka_ts, reject_reason,
       JSON_VALUE(dead_letter_json, '$.payload'), scored_at
FROM scored
WHERE status = 'rejected';

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback
SELECT tx_id, card_id, terminal_id, CAST(tx_event_time AS TIMESTAMP_LTZ(3)), CAST(confirmed_at AS TIMESTAMP_LTZ(3)),
       fraud_pattern, amount, kafka_partition, kafka_offset
FROM feedback_parsed
WHERE tx_id IS NOT NULL AND card_id IS NOT NULL AND terminal_id IS NOT NULL
  AND tx_event_time IS NOT NULL AND confirmed_at IS NOT NULL;
