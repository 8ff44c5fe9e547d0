"""Starlette routes, one module per resource."""
