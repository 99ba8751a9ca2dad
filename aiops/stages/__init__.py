"""The pipeline's stages: detect, correlate, act. Each is a ``streams.stage.Stage``."""
