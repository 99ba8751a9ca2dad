"""Alert correlation: dedup, grouping, root-cause ranking and incident lifecycle."""
