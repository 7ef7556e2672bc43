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
--
-- Every Kafka table logs in the same way (the `properties.security.*` and `sasl.*` lines, the settings of
-- include/kafka_config.py): the password is named, not written: Kafka's EnvVarConfigProvider reads it
-- from the JobManager's and TaskManagers' environment, so it never appears in the submitted SQL. The
-- class names are those inside Flink's Kafka connector jar, which relocates the Kafka client.
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
  'properties.security.protocol' = '${KAFKA_SECURITY_PROTOCOL}',
  'properties.sasl.mechanism' = '${KAFKA_SASL_MECHANISM}',
  'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_USERNAME}" password="${env:KAFKA_PASSWORD}";',
  'properties.config.providers' = 'env',
  'properties.config.providers.env.class' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.config.provider.EnvVarConfigProvider',
  'properties.group.id' = '${SCORING_JOB_NAME}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'key.format' = 'raw',
  'key.fields' = 'record_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- Byte-level functions Flink SQL lacks for BYTES (Java, flink/functions/, on the cluster's classpath):
-- CAST to VARBINARY(n) pads shorter values with zeros, and there is no length function for BYTES.
CREATE TEMPORARY SYSTEM FUNCTION byte_length AS 'fraud.flink.ByteLength' LANGUAGE JAVA;
CREATE TEMPORARY SYSTEM FUNCTION bytes_prefix AS 'fraud.flink.BytesPrefix' LANGUAGE JAVA;

-- Every record, with the length of its value. A value longer than MAX_JUDGED_BYTES (include/messages.py)
-- is `oversized`: it reaches the UDF as a prefix only (see 5_verdicts_view.sql), and its exact bytes go
-- to the Iceberg table oversized_records.
CREATE TEMPORARY VIEW kafka_records AS
SELECT topic, record_key, payload, kafka_partition, kafka_offset, kafka_ts, payload_length,
       COALESCE(payload_length > ${MAX_JUDGED_BYTES}, FALSE) AS oversized
FROM (SELECT *, byte_length(payload) AS payload_length FROM kafka_source);
