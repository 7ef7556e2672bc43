-- A rollback to an old savepoint may write a record's letter again: the first one counts.
with source as (
    select * from {{ source_as_of('fraud', 'dead_letters') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by topic, kafka_partition, kafka_offset order by detected_at
        ) as nth
    from source
),

final as (
    select
        topic,
        kafka_partition,
        kafka_offset,
        topic || '-' || cast(kafka_partition as varchar) || '-' || cast(kafka_offset as varchar) as message_id,
        kafka_ts,
        cast(detected_at as date) as detected_date,
        split_part(reason, ':', 1) as reason_code,
        reason,
        payload_length,
        payload_sha256,
        detected_at
    from ranked
    where nth = 1
)

select * from final
