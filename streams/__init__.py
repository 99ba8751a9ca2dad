"""Kafka plumbing: topic catalogue, codecs, producers, stage runners, local broker."""
