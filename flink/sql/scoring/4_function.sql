-- 4. The scoring UDF (flink/udfs.py): vectorized, batched DynamoDB reads and writes. ----------------
CREATE TEMPORARY FUNCTION score_transactions AS 'flink.udfs.score_transactions' LANGUAGE PYTHON;
