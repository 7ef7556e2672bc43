-- Benchmark design "naive" (the seed's): replaces flink/sql/scoring/4_function.sql. The same view then
-- calls a per-row UDF that reads and writes DynamoDB once each per transaction (bench/naive_udf.py).
CREATE TEMPORARY FUNCTION judge_records AS 'bench.naive_udf.judge_records_naive' LANGUAGE PYTHON;
