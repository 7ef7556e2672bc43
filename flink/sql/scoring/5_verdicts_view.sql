-- 5. Verdicts: the UDF runs once per record; every sink of 6_inserts.sql reads its one result. ---------
-- The UDF's one ROW result is all the inner query returns (the Kafka metadata comes back inside it):
-- so every sink's branch starts from the same call, and the planner evaluates it once (a sink needing
-- other source columns next to it would get a copy of the call). tests/integration checks the plan.
-- An oversized value reaches the UDF as its length, its sha256 and the start of its text (4,096
-- characters, invalid bytes as U+FFFD), and a key as its bytes when it is short (a card id is 10) or
-- the start of its text otherwise: one Python batch holds a bounded amount whatever the records carry.
-- (CAST to VARBINARY(n) cannot cut bytes: Flink 2.0 pads shorter values to n with zeros.)
-- The result is three arrays (strings, doubles, bigints; cheaper to pass from Python than a column per
-- field) and the bytes of a rejected record: ${VERDICT_COLUMNS} names every element, generated from the
-- field lists of include/scoring/verdict_layout.py (times are epoch milliseconds there, TIMESTAMP_LTZ here).
CREATE TEMPORARY VIEW verdicts AS
SELECT
  ${VERDICT_COLUMNS}
FROM (
  SELECT judge_records(
           topic,
           CASE WHEN CHAR_LENGTH(CAST(record_key AS STRING)) <= 64 THEN record_key
                ELSE ENCODE(SUBSTRING(CAST(record_key AS STRING), 1, 256), 'UTF-8') END,
           CASE WHEN oversized THEN ENCODE(SUBSTRING(CAST(payload AS STRING), 1, 4096), 'UTF-8') ELSE payload END,
           CASE WHEN oversized THEN payload_length END,
           CASE WHEN oversized THEN SHA256(payload) END,
           kafka_partition, kafka_offset, kafka_ts) AS v
  FROM kafka_records
);
