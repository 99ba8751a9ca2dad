"""The service graph, its loaders and queries."""
