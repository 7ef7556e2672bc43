-- Benchmark design "naive" (the seed's): replaces flink/sql/scoring/4_function.sql. The same view then
-- calls a per-row UDF that reads and writes DynamoDB once each per transaction (bench/naive_udf.py).
CREATE TEMPORARY FUNCTION score_transactions AS 'bench.naive_udf.score_transactions_naive' LANGUAGE PYTHON;
