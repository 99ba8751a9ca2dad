"""Kafka plumbing: topic catalogue, producers, stage runners, local broker."""
