with source as (
    select * from {{ source_as_of('fraud', 'rejected_transactions') }}
),

final as (
    select
        topic,
        kafka_partition,
        kafka_offset,
        topic || '-' || cast(kafka_partition as varchar) || '-' || cast(kafka_offset as varchar) as message_id,
        kafka_ts,
        cast(kafka_ts as date) as received_date,
        split_part(reason, ':', 1) as reason_code,
        reason,
        payload,
        detected_at
    from source
)

select * from final
