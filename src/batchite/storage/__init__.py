"""Blob I/O: resource files in, output files out, node logs, application packages."""
