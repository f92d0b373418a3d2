"""Lambda: execution environments, concurrency and scaling."""
