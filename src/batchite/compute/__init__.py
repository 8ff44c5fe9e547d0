"""Compute backends behind the node protocol (protocol.py): local processes today."""
