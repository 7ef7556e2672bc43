-- 6. The statement set --------------------------------------------------------------------------------------
-- The Iceberg writers run as their own task (write-parallelism differs from the job's), so committing
-- a checkpoint's files to the catalog never holds up scoring and alerting. Their parallelism is fixed
-- for another reason too: their operator ids, and so restoring a savepoint, must not depend on the job's
-- parallelism (1_job_settings.sql).
INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.scored_transactions /*+ OPTIONS('write-parallelism' = '1') */
SELECT tx_id, card_id, terminal_id, merchant_category, channel, amount, currency, event_time, lat, lon,
       card_tx_count_10m, card_tx_count_1h, card_tx_count_24h, card_tx_count_7d, card_tx_count_30d,
       card_amount_sum_1h, card_amount_sum_24h, card_amount_mean_30d, card_amount_std_30d,
       amount_ratio_to_mean_30d, amount_zscore_30d, card_amount_sum_24h_ratio, card_tiny_amount_count_1h,
       seconds_since_prev, distance_from_prev_km, speed_from_prev_kmh, is_new_terminal, new_terminal_at_night,
       card_history_count, hour_of_day, is_night, is_weekend,
       terminal_fraud_count_7d, terminal_fraud_count_30d, card_fraud_count_30d,
       score, rule_score, decision, reasons, model_version, config_version, kafka_partition, kafka_offset, scored_at,
       CAST(event_time AS DATE) AS event_date
FROM scored
WHERE status = 'scored';

INSERT INTO alerts_sink
SELECT tx_id, alert_json FROM scored WHERE status = 'scored' AND decision = 'ALERT';

-- One INSERT for both kinds of dead letters: one transactional Kafka sink per topic.
INSERT INTO dead_letter_sink
SELECT CONCAT('${TRANSACTIONS_TOPIC}-', CAST(kafka_partition AS STRING), '-', CAST(kafka_offset AS STRING)),
       dead_letter_json
FROM scored
WHERE status = 'rejected'
UNION ALL
SELECT CONCAT('${FEEDBACK_TOPIC}-', CAST(kafka_partition AS STRING), '-', CAST(kafka_offset AS STRING)),
       JSON_OBJECT(
         KEY 'reason' VALUE 'invalid_feedback: needs schema_version 1, tx_id, card_id, terminal_id and UTC times tx_event_time, confirmed_at',
         KEY 'topic' VALUE '${FEEDBACK_TOPIC}',
         KEY 'partition' VALUE kafka_partition,
         KEY 'offset' VALUE kafka_offset,
         KEY 'payload' VALUE payload)
FROM feedback_parsed
WHERE NOT is_valid;

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.rejected_transactions /*+ OPTIONS('write-parallelism' = '1') */
SELECT '${TRANSACTIONS_TOPIC}', kafka_partition, kafka_offset, kafka_ts, reject_reason,
       JSON_VALUE(dead_letter_json, '$.payload'), scored_at
FROM scored
WHERE status = 'rejected';

INSERT INTO ${ICEBERG_CATALOG_NAME}.${ICEBERG_NAMESPACE}.fraud_feedback /*+ OPTIONS('write-parallelism' = '1') */
SELECT tx_id, card_id, terminal_id, CAST(tx_event_time AS TIMESTAMP_LTZ(3)), CAST(confirmed_at AS TIMESTAMP_LTZ(3)),
       fraud_pattern, amount, kafka_partition, kafka_offset, CURRENT_TIMESTAMP
FROM feedback_parsed
WHERE is_valid;
