"""The streaming job: Flink SQL files, the SQL runner that submits them, and the Python UDFs."""
