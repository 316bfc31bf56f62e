"""The HTTP API: FastAPI app, auth dependencies, one router per resource."""
