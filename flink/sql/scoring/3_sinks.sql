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
  -- the features of include/scoring/features.py (after amount), in its order
  ${FEATURE_COLUMNS},
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
  'write.format.default' = 'parquet',
  'write.parquet.compression-codec' = 'zstd'
);

-- Every rejected record of both topics, once, with its reason: what the dead-letter topic says
-- (include/dead_letters.py), and the exact bytes of a value up to MAX_JUDGED_BYTES (longer ones are in
-- oversized_records, same topic, partition and offset).
CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.dead_letters (
  topic STRING,
  kafka_partition INT,
  kafka_offset BIGINT,
  -- NULL when the record's timestamp is outside years 1-9999 (kafka_timestamp_ms has it as it was)
  kafka_ts TIMESTAMP_LTZ(3),
  kafka_timestamp_ms BIGINT,
  reason STRING,
  -- NULL for a record without a value (a tombstone)
  payload_length BIGINT,
  payload_sha256 STRING,
  payload BYTES,
  letter STRING,
  detected_at TIMESTAMP_LTZ(3)
);

-- The exact bytes of values longer than MAX_JUDGED_BYTES (up to KAFKA_MAX_MESSAGE_BYTES): each also has
-- its row in dead_letters. Written straight from the source; such a value never reaches Python whole.
CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.oversized_records (
  topic STRING,
  kafka_partition INT,
  kafka_offset BIGINT,
  payload BYTES,
  received_at TIMESTAMP_LTZ(3)
);

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
);

-- CREATE TABLE IF NOT EXISTS leaves an existing table as it is: the tables created before their metadata
-- was bounded (catalog.sql) get the same properties here.
ALTER TABLE ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.scored_transactions SET (
  'write.metadata.delete-after-commit.enabled' = 'true',
  'write.metadata.previous-versions-max' = '${ICEBERG_METADATA_VERSIONS_KEPT}'
);
ALTER TABLE ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback SET (
  'write.metadata.delete-after-commit.enabled' = 'true',
  'write.metadata.previous-versions-max' = '${ICEBERG_METADATA_VERSIONS_KEPT}'
);

CREATE TEMPORARY TABLE alerts_sink (
  tx_id STRING,
  alert STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${ALERTS_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.security.protocol' = '${KAFKA_SECURITY_PROTOCOL}',
  'properties.sasl.mechanism' = '${KAFKA_SASL_MECHANISM}',
  'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_USERNAME}" password="${env:KAFKA_PASSWORD}";',
  'properties.config.providers' = 'env',
  'properties.config.providers.env.class' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.config.provider.EnvVarConfigProvider',
  'key.format' = 'raw',
  'key.fields' = 'tx_id',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY',
  -- See ALERTS_DELIVERY_GUARANTEE in platform.env for the trade-off.
  'sink.delivery-guarantee' = '${ALERTS_DELIVERY_GUARANTEE}',
  'sink.transactional-id-prefix' = '${SCORING_JOB_NAME}-alerts',
  'properties.transaction.timeout.ms' = '${KAFKA_TRANSACTION_TIMEOUT_MS}',
  'properties.max.request.size' = '${KAFKA_MAX_MESSAGE_BYTES}',
  'properties.linger.ms' = '0'
);

-- The dead-letter topic is transactional: it holds each rejected record exactly once. Its own task
-- (sink.parallelism differs from the job's), so opening and committing transactions at each
-- checkpoint does not hold up scoring. A letter is at most 64 KiB (include/dead_letters.py), far below
-- the producer's and the topic's maximum.
CREATE TEMPORARY TABLE dead_letter_sink (
  source_key STRING,
  dead_letter STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${DLQ_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.security.protocol' = '${KAFKA_SECURITY_PROTOCOL}',
  'properties.sasl.mechanism' = '${KAFKA_SASL_MECHANISM}',
  'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_USERNAME}" password="${env:KAFKA_PASSWORD}";',
  'properties.config.providers' = 'env',
  'properties.config.providers.env.class' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.config.provider.EnvVarConfigProvider',
  'key.format' = 'raw',
  'key.fields' = 'source_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '${SCORING_JOB_NAME}-dead-letters',
  'sink.parallelism' = '1',
  'properties.transaction.timeout.ms' = '${KAFKA_TRANSACTION_TIMEOUT_MS}',
  'properties.max.request.size' = '${KAFKA_MAX_MESSAGE_BYTES}'
);
