-- 5. Verdicts: the UDF runs once per record; every sink of 6_inserts.sql reads its one result. ---------
-- The UDF's one ROW result is all the inner query returns (the Kafka metadata comes back inside it):
-- so every sink's branch starts from the same call, and the planner evaluates it once (a sink needing
-- other source columns next to it would get a copy of the call). tests/integration checks the plan.
-- An oversized value reaches the UDF as its first 4,096 bytes with its length and sha256, and a key as
-- its first 256 bytes (a card id is 10): one Python batch holds a bounded amount whatever the records
-- carry.
-- The result is three arrays (strings, doubles, bigints; cheaper to pass from Python than a column per
-- field) and the bytes of a rejected record: ${VERDICT_COLUMNS} names every element, generated from the
-- field lists of include/scoring/verdict_layout.py (times are epoch milliseconds there, TIMESTAMP_LTZ here).
CREATE TEMPORARY VIEW verdicts AS
SELECT
  ${VERDICT_COLUMNS}
FROM (
  SELECT judge_records(
           topic,
           bytes_prefix(record_key, 256),
           CASE WHEN oversized THEN bytes_prefix(payload, 4096) ELSE payload END,
           CASE WHEN oversized THEN payload_length END,
           CASE WHEN oversized THEN SHA256(payload) END,
           kafka_partition, kafka_offset, kafka_ts) AS v
  FROM kafka_records
);
