-- 6. The statement set --------------------------------------------------------------------------------------
-- The Iceberg writers run as their own task (write-parallelism differs from the job's), so committing
-- a checkpoint's files to the catalog never holds up scoring and alerting. Their parallelism is fixed
-- for another reason too: their operator ids, and so restoring a savepoint, must not depend on the job's
-- parallelism (1_job_settings.sql).
INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.scored_transactions /*+ OPTIONS('write-parallelism' = '1') */
SELECT tx_id, card_id, terminal_id, merchant_category, channel, amount, currency, event_time, lat, lon,
       ${FEATURE_NAMES},
       score, rule_score, decision, reasons, model_version, config_version, kafka_partition, kafka_offset, scored_at,
       CAST(event_time AS DATE) AS event_date
FROM verdicts
WHERE status = 'scored';

INSERT INTO alerts_sink
SELECT tx_id, alert_json FROM verdicts WHERE status = 'scored' AND decision = 'ALERT';

-- Rejected records of both topics, keyed by where they came from.
INSERT INTO dead_letter_sink
SELECT CONCAT(topic, '-', CAST(kafka_partition AS STRING), '-', CAST(kafka_offset AS STRING)), dead_letter_json
FROM verdicts
WHERE status = 'rejected';

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.dead_letters /*+ OPTIONS('write-parallelism' = '1') */
SELECT topic, kafka_partition, kafka_offset, kafka_ts, kafka_ms, reject_reason, payload_length, payload_sha256,
       payload, dead_letter_json, scored_at
FROM verdicts
WHERE status = 'rejected';

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.oversized_records /*+ OPTIONS('write-parallelism' = '1') */
SELECT topic, kafka_partition, kafka_offset, payload, CURRENT_TIMESTAMP
FROM kafka_records
WHERE oversized;

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback /*+ OPTIONS('write-parallelism' = '1') */
SELECT tx_id, card_id, terminal_id, event_time, confirmed_at, fraud_pattern, amount, kafka_partition, kafka_offset,
       scored_at
FROM verdicts
WHERE status = 'confirmed';
