"""The scoring logic, shared by the UDF, the benchmarks and the tools: configuration, features, rules,
model, card histories and their DynamoDB store, feedback, verdicts."""
