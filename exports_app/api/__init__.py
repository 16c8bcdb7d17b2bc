"""HTTP API routes (FastAPI): parse, authorize, call a service, map errors to JSON."""
