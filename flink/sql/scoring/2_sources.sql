-- 2. The source -------------------------------------------------------------------------------------------
-- One Kafka source reads both input topics: transactions, and the confirmed frauds (chargebacks) that
-- arrive days after them. One source means one call of the UDF for both (the planner would copy a call
-- over a UNION into each input, and each copy runs its own Python workers). The scorer's features read
-- the feedback topic on their own as well (a broadcast side input, include/scoring/feedback_feed.py);
-- here its records are judged like transactions, for the Iceberg table of labels and the dead letters.
--
-- Key and value are read as bytes, exactly as Kafka holds them: decoding is part of the UDF's
-- validation, so a record that is not UTF-8 JSON is dead-lettered with a reason like any other bad
-- message (a STRING column would copy invalid bytes unchecked, and PyFlink's Arrow conversion would fail
-- on them before any UDF code runs). Headers are not read. The record timestamp comes as it is (any
-- int64); the producer sets it to the event time, and the UDF checks the two agree.
CREATE TEMPORARY TABLE kafka_source (
  record_key BYTES,
  payload BYTES,
  topic STRING METADATA FROM 'topic' VIRTUAL,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = '${TRANSACTIONS_TOPIC};${FEEDBACK_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = '${SCORING_JOB_NAME}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'key.format' = 'raw',
  'key.fields' = 'record_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- Every record, with the length of its value. Flink SQL has no length function for BYTES: it comes from
-- the base64 text (4 characters per 3 bytes, '=' padding the last group). A value longer than
-- MAX_JUDGED_BYTES (include/messages.py) is `oversized`: it reaches the UDF as a prefix only (see
-- 5_verdicts_view.sql), and its exact bytes go to the Iceberg table oversized_records.
CREATE TEMPORARY VIEW kafka_records AS
SELECT topic, record_key, payload, kafka_partition, kafka_offset, kafka_ts, payload_length,
       COALESCE(payload_length > ${MAX_JUDGED_BYTES}, FALSE) AS oversized
FROM (
  SELECT *, CAST(CHAR_LENGTH(b64) AS BIGINT) / 4 * 3
            - (CHAR_LENGTH(b64) - CHAR_LENGTH(TRIM(TRAILING '=' FROM b64))) AS payload_length
  FROM (SELECT *, TO_BASE64(payload) AS b64 FROM kafka_source)
);
