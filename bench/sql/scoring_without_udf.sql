-- Benchmark design "no-udf" (the ceiling): replaces flink/sql/scoring/4_function.sql and 5_verdicts_view.sql.
-- The same columns as the UDF's view, from JSON functions and a one-rule score (amount >= 220), so the
-- job keeps its source, every sink and checkpoint and only loses the Python step and DynamoDB.
CREATE TEMPORARY VIEW parsed AS
SELECT
  topic,
  JSON_VALUE(text, '$.tx_id') AS tx_id,
  JSON_VALUE(text, '$.card_id') AS card_id,
  JSON_VALUE(text, '$.terminal_id') AS terminal_id,
  JSON_VALUE(text, '$.merchant_category') AS merchant_category,
  JSON_VALUE(text, '$.channel') AS channel,
  TRY_CAST(JSON_VALUE(text, '$.amount') AS DOUBLE) AS amount,
  JSON_VALUE(text, '$.currency') AS currency,
  TRY_CAST(JSON_VALUE(text, '$.lat') AS DOUBLE) AS lat,
  TRY_CAST(JSON_VALUE(text, '$.lon') AS DOUBLE) AS lon,
  payload, kafka_partition, kafka_offset, kafka_ts
FROM (SELECT *, CAST(payload AS STRING) AS text FROM kafka_records);

CREATE TEMPORARY VIEW verdicts AS
SELECT
  CASE WHEN topic = '${FEEDBACK_TOPIC}' THEN 'confirmed'
       WHEN tx_id IS NULL OR amount IS NULL THEN 'rejected' ELSE 'scored' END AS status,
  topic, tx_id, card_id, terminal_id, merchant_category, channel, currency,
  CASE WHEN amount >= 220 THEN 'ALERT' ELSE 'PASS' END AS decision,
  '[]' AS reasons,
  'sql-only' AS model_version,
  JSON_OBJECT(KEY 'tx_id' VALUE tx_id, KEY 'card_id' VALUE card_id, KEY 'amount' VALUE amount,
              KEY 'detected_at' VALUE CAST(CURRENT_TIMESTAMP AS STRING)) AS alert_json,
  CAST(NULL AS STRING) AS fraud_pattern,
  'malformed' AS reject_reason,
  JSON_OBJECT(KEY 'reason' VALUE 'malformed', KEY 'payload_sha256' VALUE SHA256(payload)) AS dead_letter_json,
  SHA256(payload) AS payload_sha256,
  amount, lat, lon,
  CASE WHEN amount >= 220 THEN 0.55 ELSE 0.0 END AS score,
  CASE WHEN amount >= 220 THEN 0.55 ELSE 0.0 END AS rule_score,
  ${NO_FEATURES},
  kafka_ts AS event_time,
  CURRENT_TIMESTAMP AS scored_at,
  0 AS config_version,
  kafka_partition, kafka_offset, kafka_ts,
  kafka_ts AS confirmed_at,
  CAST(NULL AS BIGINT) AS payload_length,
  CAST(NULL AS BIGINT) AS kafka_ms,
  payload
FROM parsed;
