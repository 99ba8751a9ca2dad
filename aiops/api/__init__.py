"""The HTTP API: receivers that write to Kafka, the incident API, health and metrics."""
