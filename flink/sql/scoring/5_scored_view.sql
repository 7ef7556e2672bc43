-- 5. Scoring: the UDF runs once per record; every sink of 6_inserts.sql reads its one result. -----
-- The UDF's one ROW result is all the inner query returns (the Kafka metadata comes back inside it):
-- so every sink's branch starts from the same call, and the planner evaluates it once (a sink needing
-- other source columns next to it would get a copy of the call). tests/integration checks the plan.
CREATE TEMPORARY VIEW scored AS
SELECT s.*, TO_TIMESTAMP_LTZ(s.event_ms, 3) AS event_time, TO_TIMESTAMP_LTZ(s.scored_ms, 3) AS scored_at,
       TO_TIMESTAMP_LTZ(s.kafka_ms, 3) AS kafka_ts
FROM (
  SELECT score_transactions(payload, kafka_partition, kafka_offset, kafka_ts) AS s
  FROM transactions_source
);
