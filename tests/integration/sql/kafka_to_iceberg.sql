-- The whole chain of jars in one job: Kafka SQL connector -> Iceberg runtime -> JDBC catalog -> S3.
SET 'pipeline.name' = '${JOB_NAME}';
SET 'execution.checkpointing.interval' = '3s';
SET 'parallelism.default' = '2';

CREATE TEMPORARY TABLE chain_source (
  tx_id STRING,
  card_id STRING,
  amount DECIMAL(12, 2)
) WITH (
  'connector' = 'kafka',
  'topic' = '${SOURCE_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.security.protocol' = '${KAFKA_SECURITY_PROTOCOL}',
  'properties.sasl.mechanism' = '${KAFKA_SASL_MECHANISM}',
  'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_USERNAME}" password="${env:KAFKA_PASSWORD}";',
  'properties.config.providers' = 'env',
  'properties.config.providers.env.class' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.config.provider.EnvVarConfigProvider',
  'properties.group.id' = '${JOB_NAME}',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);

CREATE DATABASE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${TARGET_NAMESPACE};

CREATE TABLE IF NOT EXISTS ${ICEBERG_CATALOG_NAME}.${TARGET_NAMESPACE}.${TARGET_TABLE} (
  tx_id STRING,
  card_id STRING,
  amount DECIMAL(12, 2)
);

INSERT INTO ${ICEBERG_CATALOG_NAME}.${TARGET_NAMESPACE}.${TARGET_TABLE}
SELECT tx_id, card_id, amount FROM chain_source;
