"""Scenarios with azure-batch 14.2.0 (msrest); run in .venv-legacy by scripts/test-legacy."""
