"""The `batchite` command line."""
