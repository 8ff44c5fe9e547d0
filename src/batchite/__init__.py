"""Batchite: a local Azure Batch service that speaks the Batch REST API and really runs the work."""

__version__ = "0.1.0"
