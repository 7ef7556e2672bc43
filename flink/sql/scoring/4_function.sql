-- 4. The judging UDF (flink/udfs.py): one verdict per record of either topic; vectorized, batched
-- DynamoDB reads and writes. -------------------------------------------------------------------------
CREATE TEMPORARY FUNCTION judge_records AS 'flink.udfs.judge_records' LANGUAGE PYTHON;
