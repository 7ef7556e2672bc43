#!/bin/sh
# Starts the compose Kafka as `make up` starts the native one (stack/conf/kafka/server.properties): every
# listener asks for a login (SCRAM for clients and the broker itself, PLAIN on the controller's port), and
# the SCRAM logins are stored in the metadata when the data directory is formatted. Also writes the client
# settings the health check and kafka-init use. Passwords come from the environment (.env).
set -eu
conf=/tmp/server.properties
cat > "$conf" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=kafka:9093
listeners=INTERNAL://:19092,EXTERNAL://:9092,CONTROLLER://:9093
advertised.listeners=INTERNAL://kafka:19092,EXTERNAL://127.0.0.1:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$KAFKA_BROKER_PASSWORD";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="$KAFKA_BROKER_PASSWORD" user_broker="$KAFKA_BROKER_PASSWORD";
log.dirs=/var/lib/kafka/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1
message.max.bytes=$KAFKA_MESSAGE_MAX_BYTES
transaction.max.timeout.ms=$KAFKA_TRANSACTION_MAX_TIMEOUT_MS
log.retention.hours=168
log.segment.bytes=268435456
PROPERTIES
chmod 600 "$conf"
umask 077
cat > /tmp/client.properties <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_USERNAME" password="$KAFKA_PASSWORD";
PROPERTIES
if [ "${1:-}" = "client-config-only" ]; then exit 0; fi
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format --standalone -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" -c "$conf" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_USERNAME,password=$KAFKA_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=broker,password=$KAFKA_BROKER_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
