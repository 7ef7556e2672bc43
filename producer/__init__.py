"""The transaction producer: a simulator and file replay, streaming to Kafka with delayed labels."""
