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
  'properties.group.id' = '${SCORING_JOB_NAME}',
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
  'properties.group.id' = '${SCORING_JOB_NAME}-feedback',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

-- Feedback parsed in SQL, with the checks of include/scoring/feedback.py parse_feedback (the scoring
-- UDF's own reading of the topic): schema version 1, non-empty ids, UTC timestamps ending in Z
-- (UTC_TIMESTAMP_PATTERN: the schema's pattern, from include/transactions.py).
-- A record that fails them is dead-lettered.
CREATE TEMPORARY VIEW feedback_fields AS
SELECT
  TRY_CAST(JSON_VALUE(payload, '$.schema_version') AS INT) AS schema_version,
  JSON_VALUE(payload, '$.tx_id') AS tx_id,
  JSON_VALUE(payload, '$.card_id') AS card_id,
  JSON_VALUE(payload, '$.terminal_id') AS terminal_id,
  CASE WHEN REGEXP(JSON_VALUE(payload, '$.tx_event_time'), '^${UTC_TIMESTAMP_PATTERN}$')
       THEN TRY_CAST(REPLACE(REPLACE(JSON_VALUE(payload, '$.tx_event_time'), 'T', ' '), 'Z', '') AS TIMESTAMP(3))
  END AS tx_event_time,
  CASE WHEN REGEXP(JSON_VALUE(payload, '$.confirmed_at'), '^${UTC_TIMESTAMP_PATTERN}$')
       THEN TRY_CAST(REPLACE(REPLACE(JSON_VALUE(payload, '$.confirmed_at'), 'T', ' '), 'Z', '') AS TIMESTAMP(3))
  END AS confirmed_at,
  JSON_VALUE(payload, '$.fraud_pattern') AS fraud_pattern,
  TRY_CAST(JSON_VALUE(payload, '$.amount') AS DOUBLE) AS amount,
  payload, kafka_partition, kafka_offset, kafka_ts
FROM feedback_source;

CREATE TEMPORARY VIEW feedback_parsed AS
SELECT *,
  COALESCE(schema_version = 1 AND tx_id <> '' AND card_id <> '' AND terminal_id <> ''
           AND tx_event_time IS NOT NULL AND confirmed_at IS NOT NULL, FALSE) AS is_valid
FROM feedback_fields;
