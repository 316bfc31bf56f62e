"""The HTTP API: FastAPI app, auth dependencies, one router per resource."""

API_PREFIX = "/api/v1"  # every resource's routes are under it; the health routes are not
