"""The Numenta Anomaly Benchmark: corpus files, the scoring protocol and a runner."""
