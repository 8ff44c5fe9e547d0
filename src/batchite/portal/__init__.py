"""The web portal at /portal: server-rendered pages (Jinja2) made live by htmx and server-sent events."""
