-- The fraud scoring job, in the order flink/sql_runner.py runs the files (after ../catalog.sql).
-- One statement set: every INSERT of 6_inserts.sql shares one consistent checkpoint.
-- ${NAME} comes from include/platform.env, or from include/scoring_job.py for one instance.
--
--   credit_card_transactions --+--> judge_records (Python UDF, one verdict per record, bytes in)
--   fraud_feedback ------------'      |-- scored    --> lakehouse.fraud.scored_transactions (Iceberg,
--                                     |                 committed on checkpoints)
--                                     |-- ALERT     --> fraud_alerts (Kafka, key tx_id)
--                                     |-- confirmed --> lakehouse.fraud.fraud_feedback
--                                     '-- rejected  --> transactions_dlq + lakehouse.fraud.dead_letters
--   values over MAX_JUDGED_BYTES, as they are      --> lakehouse.fraud.oversized_records

-- 1. Job configuration -----------------------------------------------------------------------------------
SET 'pipeline.name' = '${SCORING_JOB_NAME}';
SET 'parallelism.default' = '2';
SET 'table.local-time-zone' = 'UTC';
-- Savepoints map state to operators by id. Flink derives the id of an operator without a uid from the
-- operators chained to it, and chaining changes with parallelism: without uids, a deploy with another
-- parallelism cannot restore the savepoint of the running job. The planner's operators get uids here; the
-- Iceberg writers, which get none from their connector, run at a fixed parallelism (6_inserts.sql).
SET 'table.exec.uid.generation' = 'ALWAYS';
-- The UDF's result feeds five sinks' branches chained in one task: without object reuse Flink copies
-- each result row (arrays of every field) for all but one of them; the A/B is in bench/README.md.
-- Safe here: the planner's operators do not hold on to a record, the Python operator forwards no input
-- column, and every sink serializes what it is given.
SET 'pipeline.object-reuse' = 'true';
-- Iceberg commits and Kafka transactions happen on checkpoints: this is also the freshness of the table.
SET 'execution.checkpointing.interval' = '10s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'execution.checkpointing.min-pause' = '2s';
SET 'execution.checkpointing.timeout' = '5min';
-- Checkpoints under the job's name, where include/restore_points.py finds them after the JobManager forgot
-- the job (it forgets ended jobs after a week, and all when it restarts).
SET 'execution.checkpointing.dir' = '${FLINK_CHECKPOINT_DIR}/${SCORING_JOB_NAME}';
SET 'restart-strategy.type' = 'exponential-delay';
SET 'restart-strategy.exponential-delay.initial-backoff' = '2s';
SET 'restart-strategy.exponential-delay.max-backoff' = '1min';
-- Python batches: the UDF sees up to 2,000 records at once, or what arrived since the last batch ended
-- plus up to 20 ms. Shorter waits lower the median alert latency, but each batch also costs fixed work
-- (one DynamoDB log write, Arrow conversion, the Python worker's round trip), so 20 ms rather than 10 ms
-- trades a few ms of median latency for fewer DynamoDB requests (bench/README.md). Under load batches
-- fill up and the fixed work is shared by 2,000 records.
SET 'python.fn-execution.arrow.batch.size' = '2000';
SET 'python.fn-execution.bundle.size' = '2000';
SET 'python.fn-execution.bundle.time' = '20';
