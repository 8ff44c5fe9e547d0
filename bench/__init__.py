"""Batchite's benchmarks: `python -m bench` runs each row beside its reference (see runner.py)."""
